"""Layout tables of a synthetic Windows 11 24H2 x64 kernel (ntkrnlmp.pdb, 10.0.26100).

No symbol table for a 24H2 kernel is available to this project, so this platform is
SYNTHETIC: ``real_symbols=False``, the GUID is made up ("D5CA" = dumpscan, build 26100),
and the layouts are MODEL unless a comment cites a public source.

Public facts looked for (Vergilius Project 24H2 pages for _POOL_TRACKER_BIG_PAGES,
_POOL_TRACKER_TABLE, _MM_DRIVER_VERIFIER_DATA, _VF_TARGET_VERIFIED_DRIVER_DATA,
_VF_POOL_TRACE; GitHub code/issue search for "PoolFlags" in _POOL_TRACKER_BIG_PAGES): none
were found in the stored public material searched. Therefore:

* every type is the Windows 11 22000.1516 layout, read from the real ISF
  JPCERTCC/Windows-Symbol-Tables 0B0A89438BE7729EB33FD00A7D6FA816-1 (S1) [MODEL for 24H2];
* the one 24H2 change applied is the brief's: ``_POOL_TRACKER_BIG_PAGES.PoolType`` is
  renamed ``PoolFlags`` (same 12-bit field at bit 8 of the dword at 0xC) and
  ``ProcessBilled`` stays at 0x18 [MODEL: not confirmed by a public layout];
* global and function RVAs are the 22000.1516 RVAs + 0x40000 (chosen), so every spacing
  fact of the real build (pointer variables, ExPoolTagTables 2048 slots, KDBG gap 0x380)
  carries over; function extents are the 22000.1516 ones (MODEL);
* the set of globals/functions is the 22000.1516 set (MODEL).
"""
from dumpscan.synth.platforms.base import Enum, Function, Platform, Struct

PLATFORM = Platform(
    name="win11-24h2-x64",
    description="Windows 11 24H2 x64 10.0.26100.1 (synthetic symbols)",
    machine="x64",
    pae=False,
    pdb_name="ntkrnlmp.pdb",  # the x64 MP kernel PDB name, as on every x64 build [S1]
    guid="D5CA0000000000000000000000026100",  # chosen: synthetic, valid 32 upper-hex digits
    age=1,  # chosen
    version=(10, 0, 26100, 1),  # 24H2 = build 26100 (public); revision 1 chosen
    real_symbols=False,
    kernel_image_size=0xe42000,  # chosen: 22000.1516 MODEL size 0xe02000 + 0x40000
    types={
        "_DBGKD_GET_VERSION64": Struct(0x28, {  # MODEL: = 22000.1516 layout [S1]
            "MajorVersion": (0x0, "u16"),
            "MinorVersion": (0x2, "u16"),
            "ProtocolVersion": (0x4, "u8"),
            "KdSecondaryVersion": (0x5, "u8"),
            "Flags": (0x6, "u16"),
            "MachineType": (0x8, "u16"),
            "MaxPacketType": (0xa, "u8"),
            "MaxStateChange": (0xb, "u8"),
            "MaxManipulate": (0xc, "u8"),
            "Simulation": (0xd, "u8"),
            "Unused": (0xe, "u16[1]"),
            "KernBase": (0x10, "u64"),
            "PsLoadedModuleList": (0x18, "u64"),
            "DebuggerDataList": (0x20, "u64"),
        }),
        "_IMAGE_DOS_HEADER": Struct(0x40, {  # MODEL: = 22000.1516 layout [S1]
            "e_magic": (0x0, "u16"),
            "e_cblp": (0x2, "u16"),
            "e_cp": (0x4, "u16"),
            "e_crlc": (0x6, "u16"),
            "e_cparhdr": (0x8, "u16"),
            "e_minalloc": (0xa, "u16"),
            "e_maxalloc": (0xc, "u16"),
            "e_ss": (0xe, "u16"),
            "e_sp": (0x10, "u16"),
            "e_csum": (0x12, "u16"),
            "e_ip": (0x14, "u16"),
            "e_cs": (0x16, "u16"),
            "e_lfarlc": (0x18, "u16"),
            "e_ovno": (0x1a, "u16"),
            "e_res": (0x1c, "u16[4]"),
            "e_oemid": (0x24, "u16"),
            "e_oeminfo": (0x26, "u16"),
            "e_res2": (0x28, "u16[10]"),
            "e_lfanew": (0x3c, "i32"),
        }),
        "_KLDR_DATA_TABLE_ENTRY": Struct(0xa0, {  # MODEL: = 22000.1516 layout [S1]
            "InLoadOrderLinks": (0x0, "_LIST_ENTRY"),
            "DllBase": (0x30, "ptr"),
            "EntryPoint": (0x38, "ptr"),
            "SizeOfImage": (0x40, "u32"),
            "FullDllName": (0x48, "_UNICODE_STRING"),
            "BaseDllName": (0x58, "_UNICODE_STRING"),
            "Flags": (0x68, "u32"),
            "LoadCount": (0x6c, "u16"),
        }),
        "_KSYSTEM_TIME": Struct(0xc, {  # MODEL: = 22000.1516 layout [S1]
            "LowPart": (0x0, "u32"),
            "High1Time": (0x4, "i32"),
            "High2Time": (0x8, "i32"),
        }),
        "_KUSER_SHARED_DATA": Struct(0x730, {  # MODEL: = 22000.1516 layout [S1]
            "TickCountLowDeprecated": (0x0, "u32"),
            "TickCountMultiplier": (0x4, "u32"),
            "InterruptTime": (0x8, "_KSYSTEM_TIME"),
            "SystemTime": (0x14, "_KSYSTEM_TIME"),
            "TimeZoneBias": (0x20, "_KSYSTEM_TIME"),
            "ImageNumberLow": (0x2c, "u16"),
            "ImageNumberHigh": (0x2e, "u16"),
            "NtSystemRoot": (0x30, "wchar[260]"),
            "NtBuildNumber": (0x260, "u32"),
            "NtProductType": (0x264, "enum:_NT_PRODUCT_TYPE"),
            "ProductTypeIsValid": (0x268, "u8"),
            "NativeProcessorArchitecture": (0x26a, "u16"),
            "NtMajorVersion": (0x26c, "u32"),
            "NtMinorVersion": (0x270, "u32"),
            "KdDebuggerEnabled": (0x2d4, "u8"),
            "NumberOfPhysicalPages": (0x2e8, "u32"),
            "SafeBootMode": (0x2ec, "u8"),
            "TickCount": (0x320, "_KSYSTEM_TIME"),
        }),
        "_LDR_DATA_TABLE_ENTRY": Struct(0x138, {  # MODEL: = 22000.1516 layout [S1]
            "InLoadOrderLinks": (0x0, "_LIST_ENTRY"),
            "InMemoryOrderLinks": (0x10, "_LIST_ENTRY"),
            "InInitializationOrderLinks": (0x20, "_LIST_ENTRY"),
            "DllBase": (0x30, "ptr"),
            "EntryPoint": (0x38, "ptr"),
            "SizeOfImage": (0x40, "u32"),
            "FullDllName": (0x48, "_UNICODE_STRING"),
            "BaseDllName": (0x58, "_UNICODE_STRING"),
            "Flags": (0x68, "u32"),
            "ObsoleteLoadCount": (0x6c, "u16"),
        }),
        "_LIST_ENTRY": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "Flink": (0x0, "ptr:_LIST_ENTRY"),
            "Blink": (0x8, "ptr:_LIST_ENTRY"),
        }),
        "_MM_DRIVER_VERIFIER_DATA": Struct(0xb0, {  # MODEL: = 22000.1516 layout [S1]
            "Level": (0x0, "u32"),
            "RaiseIrqls": (0x4, "u32"),
            "AcquireSpinLocks": (0x8, "u32"),
            "SynchronizeExecutions": (0xc, "u32"),
            "AllocationsAttempted": (0x10, "u32"),
            "AllocationsSucceeded": (0x14, "u32"),
            "AllocationsSucceededSpecialPool": (0x18, "u32"),
            "AllocationsWithNoTag": (0x1c, "u32"),
            "TrimRequests": (0x20, "u32"),
            "Trims": (0x24, "u32"),
            "AllocationsFailed": (0x28, "u32"),
            "AllocationsFailedDeliberately": (0x2c, "u32"),
            "AllocationFreed": (0x30, "u32"),
            "Loads": (0x34, "u32"),
            "Unloads": (0x38, "u32"),
            "UnTrackedPool": (0x3c, "u32"),
            "UserTrims": (0x40, "u32"),
            "CurrentPagedPoolAllocations": (0x44, "u32"),
            "CurrentNonPagedPoolAllocations": (0x48, "u32"),
            "PeakPagedPoolAllocations": (0x4c, "u32"),
            "PeakNonPagedPoolAllocations": (0x50, "u32"),
            "PagedBytes": (0x58, "u64"),
            "NonPagedBytes": (0x60, "u64"),
            "PeakPagedBytes": (0x68, "u64"),
            "PeakNonPagedBytes": (0x70, "u64"),
            "BurstAllocationsFailedDeliberately": (0x78, "u32"),
            "SessionTrims": (0x7c, "u32"),
            "OptionChanges": (0x80, "u32"),
            "VerifyMode": (0x84, "u32"),
            "PreviousBucketName": (0x88, "_UNICODE_STRING"),
            "ExecutePoolTypes": (0x98, "u32"),
            "ExecutePageProtections": (0x9c, "u32"),
            "ExecutePageMappings": (0xa0, "u32"),
            "ExecuteWriteSections": (0xa4, "u32"),
            "SectionAlignmentFailures": (0xa8, "u32"),
            "IATInExecutableSection": (0xac, "u32"),
        }),
        "_POOL_HEADER": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "PoolIndex": (0x0, "u16{8:8}"),
            "PreviousSize": (0x0, "u16{0:8}"),
            "Ulong1": (0x0, "u32"),
            "BlockSize": (0x2, "u16{0:8}"),
            "PoolType": (0x2, "u16{8:8}"),
            "PoolTag": (0x4, "u32"),
            "AllocatorBackTraceIndex": (0x8, "u16"),
            "ProcessBilled": (0x8, "ptr:_EPROCESS"),
            "PoolTagHash": (0xa, "u16"),
        }),
        "_POOL_TRACKER_BIG_PAGES": Struct(0x20, {  # MODEL: 22000 layout, PoolType renamed PoolFlags (brief; unconfirmed)
            "Va": (0x0, "u64"),
            "Key": (0x8, "u32"),
            "Pattern": (0xc, "u32{0:8}"),
            "PoolFlags": (0xc, "u32{8:12}"),
            "SlushSize": (0xc, "u32{20:12}"),
            "NumberOfBytes": (0x10, "u64"),
            "ProcessBilled": (0x18, "ptr:_EPROCESS"),
        }),
        "_POOL_TRACKER_TABLE": Struct(0x50, {  # MODEL: = 22000.1516 layout [S1]
            "Key": (0x0, "i32"),
            "NonPagedBytes": (0x8, "u64"),
            "NonPagedAllocs": (0x10, "u64"),
            "NonPagedFrees": (0x18, "u64"),
            "PagedBytes": (0x20, "u64"),
            "PagedAllocs": (0x28, "u64"),
            "PagedFrees": (0x30, "u64"),
            "AvailableLimit": (0x38, "i64[2]"),
            "LimitInfo": (0x48, "ptr:_POOL_LIMIT_TABLE_ENTRY"),
        }),
        "_RTL_AVL_TABLE": Struct(0x68, {  # MODEL: = 22000.1516 layout [S1]
            "BalancedRoot": (0x0, "_RTL_BALANCED_LINKS"),
            "OrderedPointer": (0x20, "ptr"),
            "WhichOrderedElement": (0x28, "u32"),
            "NumberGenericTableElements": (0x2c, "u32"),
            "DepthOfTree": (0x30, "u32"),
            "RestartKey": (0x38, "ptr:_RTL_BALANCED_LINKS"),
            "DeleteCount": (0x40, "u32"),
            "CompareRoutine": (0x48, "ptr"),
            "AllocateRoutine": (0x50, "ptr"),
            "FreeRoutine": (0x58, "ptr"),
            "TableContext": (0x60, "ptr"),
        }),
        "_RTL_BALANCED_LINKS": Struct(0x20, {  # MODEL: = 22000.1516 layout [S1]
            "Parent": (0x0, "ptr:_RTL_BALANCED_LINKS"),
            "LeftChild": (0x8, "ptr:_RTL_BALANCED_LINKS"),
            "RightChild": (0x10, "ptr:_RTL_BALANCED_LINKS"),
            "Balance": (0x18, "i8"),
            "Reserved": (0x19, "u8[3]"),
        }),
        "_SLIST_ENTRY": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "Next": (0x0, "ptr:_SLIST_ENTRY"),
        }),
        "_SLIST_HEADER": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "Alignment": (0x0, "u64"),
            "HeaderX64": (0x0, "__unnamed_10e3"),
            "Region": (0x8, "u64"),
        }, kind="union"),
        "_UNICODE_STRING": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "Length": (0x0, "u16"),
            "MaximumLength": (0x2, "u16"),
            "Buffer": (0x8, "ptr:wchar"),
        }),
        "_VF_AVL_TABLE": Struct(0xc0, {  # MODEL: = 22000.1516 layout [S1]
            "RtlTable": (0x0, "_RTL_AVL_TABLE"),
            "ReservedNode": (0x68, "ptr:_VF_AVL_TREE_NODE"),
            "NodeToFree": (0x70, "ptr"),
            "Lock": (0x80, "i32"),
        }),
        "_VF_AVL_TREE": Struct(0x28, {  # MODEL: = 22000.1516 layout [S1]
            "NodeRangeSize": (0x0, "u64"),
            "NodeCount": (0x8, "u64"),
            "Tables": (0x10, "ptr:_VF_AVL_TABLE"),
            "TablesNo": (0x18, "u32"),
            "UseSessionId": (0x1c, "u8"),
            "u1": (0x20, "__unnamed_2d4c"),
        }),
        "_VF_AVL_TREE_NODE": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "p": (0x0, "ptr"),
            "RangeSize": (0x8, "u64"),
        }),
        "_VF_AVL_TREE_NODE_EX": Struct(0x18, {  # MODEL: = 22000.1516 layout [S1]
            "Base": (0x0, "_VF_AVL_TREE_NODE"),
            "SessionId": (0x10, "u32"),
        }),
        "_VF_POOL_TRACE": Struct(0x1a8, {  # MODEL: = 22000.1516 layout [S1]
            "Address": (0x0, "ptr"),
            "Size": (0x8, "u64"),
            "Thread": (0x10, "ptr:_ETHREAD"),
            "StackTrace": (0x18, "ptr[50]"),
        }),
        "_VF_SUSPECT_DRIVER_ENTRY": Struct(0x28, {  # MODEL: = 22000.1516 layout [S1]
            "Links": (0x0, "_LIST_ENTRY"),
            "Loads": (0x10, "u32"),
            "Unloads": (0x14, "u32"),
            "BaseName": (0x18, "_UNICODE_STRING"),
        }),
        "_VF_TARGET_ALL_SHARED_EXPORT_THUNKS": Struct(0x18, {  # MODEL: = 22000.1516 layout [S1]
            "SharedExportThunks": (0x0, "ptr"),
            "PoolSharedExportThunks": (0x8, "ptr"),
            "XdvSharedExportThunks": (0x10, "ptr"),
        }),
        "_VF_TARGET_DRIVER": Struct(0x40, {  # MODEL: = 22000.1516 layout [S1]
            "TreeNode": (0x0, "_VF_AVL_TREE_NODE_EX"),
            "u1": (0x18, "__unnamed_30d3"),
            "DriverObject": (0x30, "ptr:_DRIVER_OBJECT"),
            "VerifiedData": (0x38, "ptr:_VF_TARGET_VERIFIED_DRIVER_DATA"),
        }),
        "_VF_TARGET_VERIFIED_DRIVER_DATA": Struct(0x130, {  # MODEL: = 22000.1516 layout [S1]
            "SuspectDriverEntry": (0x0, "ptr:_VF_SUSPECT_DRIVER_ENTRY"),
            "WMICallback": (0x8, "ptr"),
            "EtwHandlesListHead": (0x10, "_LIST_ENTRY"),
            "u1": (0x20, "__unnamed_2b57"),
            "Signature": (0x28, "u64"),
            "SeSigningLevel": (0x30, "u8"),
            "PoolPageHeaders": (0x40, "_SLIST_HEADER"),
            "PoolTrackers": (0x50, "_SLIST_HEADER"),
            "DifPluginPerDriverDataContextHead": (0x60, "_LIST_ENTRY"),
            "CurrentPagedPoolAllocations": (0x70, "u32"),
            "CurrentNonPagedPoolAllocations": (0x74, "u32"),
            "PeakPagedPoolAllocations": (0x78, "u32"),
            "PeakNonPagedPoolAllocations": (0x7c, "u32"),
            "PagedBytes": (0x80, "u64"),
            "NonPagedBytes": (0x88, "u64"),
            "PeakPagedBytes": (0x90, "u64"),
            "PeakNonPagedBytes": (0x98, "u64"),
            "RaiseIrqls": (0xa0, "u32"),
            "AcquireSpinLocks": (0xa4, "u32"),
            "SynchronizeExecutions": (0xa8, "u32"),
            "AllocationsWithNoTag": (0xac, "u32"),
            "AllocationsFailed": (0xb0, "u32"),
            "AllocationsFailedDeliberately": (0xb4, "u32"),
            "LockedBytes": (0xb8, "u64"),
            "PeakLockedBytes": (0xc0, "u64"),
            "MappedLockedBytes": (0xc8, "u64"),
            "PeakMappedLockedBytes": (0xd0, "u64"),
            "MappedIoSpaceBytes": (0xd8, "u64"),
            "PeakMappedIoSpaceBytes": (0xe0, "u64"),
            "PagesForMdlBytes": (0xe8, "u64"),
            "PeakPagesForMdlBytes": (0xf0, "u64"),
            "ContiguousMemoryBytes": (0xf8, "u64"),
            "PeakContiguousMemoryBytes": (0x100, "u64"),
            "ContiguousMemoryListHead": (0x108, "_LIST_ENTRY"),
            "ExecutePoolTypes": (0x118, "u32"),
            "ExecutePageProtections": (0x11c, "u32"),
            "ExecutePageMappings": (0x120, "u32"),
            "ExecuteWriteSections": (0x124, "u32"),
            "SectionAlignmentFailures": (0x128, "u32"),
            "IATInExecutableSection": (0x12c, "u32"),
        }),
        "_VI_POOL_ENTRY": Struct(0x20, {  # MODEL: = 22000.1516 layout [S1]
            "InUse": (0x0, "_VI_POOL_ENTRY_INUSE"),
            "NextFree": (0x0, "ptr:_SLIST_ENTRY"),
            "PageHeader": (0x0, "_VI_POOL_PAGE_HEADER"),
        }),
        "_VI_POOL_ENTRY_INUSE": Struct(0x20, {  # MODEL: = 22000.1516 layout [S1]
            "VirtualAddress": (0x0, "ptr"),
            "CallingAddress": (0x8, "ptr"),
            "NumberOfBytes": (0x10, "u64"),
            "Tag": (0x18, "u64"),
        }),
        "_VI_POOL_PAGE_HEADER": Struct(0x18, {  # MODEL: = 22000.1516 layout [S1]
            "NextPage": (0x0, "ptr:_SLIST_ENTRY"),
            "VerifierEntry": (0x8, "ptr"),
            "Signature": (0x10, "u64"),
        }),
        "_VI_VERIFIER_POOL_HEADER": Struct(0x8, {  # MODEL: = 22000.1516 layout [S1]
            "VerifierPoolEntry": (0x0, "ptr:_VI_POOL_ENTRY"),
        }),
        "__unnamed_10e3": Struct(0x10, {  # MODEL: = 22000.1516 layout [S1]
            "Depth": (0x0, "u64{0:16}"),
            "Sequence": (0x0, "u64{16:48}"),
            "NextEntry": (0x8, "u64{4:60}"),
            "Reserved": (0x8, "u64{0:4}"),
        }),
        "__unnamed_2b55": Struct(0x4, {  # MODEL: = 22000.1516 layout [S1]
            "IsBootDriver": (0x0, "u32{1:1}"),
            "MissedEtwRegistration": (0x0, "u32{0:1}"),
            "Spare": (0x0, "u32{2:30}"),
        }),
        "__unnamed_2b57": Struct(0x4, {  # MODEL: = 22000.1516 layout [S1]
            "Flags": (0x0, "__unnamed_2b55"),
            "Whole": (0x0, "u32"),
        }, kind="union"),
        "__unnamed_2d4c": Struct(0x4, {  # MODEL: = 22000.1516 layout [S1]
            "NodeSize": (0x0, "u32"),
            "UseLookaside": (0x0, "u32"),
        }, kind="union"),
        "__unnamed_30d1": Struct(0x4, {  # MODEL: = 22000.1516 layout [S1]
            "SnapSharedExportsFailed": (0x0, "u32{0:1}"),
            "Spare": (0x0, "u32{1:31}"),
        }),
        "__unnamed_30d3": Struct(0x18, {  # MODEL: = 22000.1516 layout [S1]
            "AllSharedExportThunks": (0x0, "_VF_TARGET_ALL_SHARED_EXPORT_THUNKS"),
            "Flags": (0x0, "__unnamed_30d1"),
        }, kind="union"),
        "_CMHIVE": Struct(0x12d8, {}),  # MODEL: = 22000.1516 layout [S1]
        "_CM_KEY_BODY": Struct(0x70, {}),  # MODEL: = 22000.1516 layout [S1]
        "_CM_KEY_NODE": Struct(0x50, {}),  # MODEL: = 22000.1516 layout [S1]
        "_CM_KEY_VALUE": Struct(0x18, {}),  # MODEL: = 22000.1516 layout [S1]
        "_CONTROL_AREA": Struct(0x80, {}),  # MODEL: = 22000.1516 layout [S1]
        "_DEVICE_OBJECT": Struct(0x150, {}),  # MODEL: = 22000.1516 layout [S1]
        "_DRIVER_OBJECT": Struct(0x150, {}),  # MODEL: = 22000.1516 layout [S1]
        "_EPROCESS": Struct(0xb80, {}),  # MODEL: = 22000.1516 layout [S1]
        "_ERESOURCE": Struct(0x68, {}),  # MODEL: = 22000.1516 layout [S1]
        "_ETHREAD": Struct(0x8f0, {}),  # MODEL: = 22000.1516 layout [S1]
        "_EX_FAST_REF": Struct(0x8, {}),  # MODEL: = 22000.1516 layout [S1]
        "_FILE_OBJECT": Struct(0xd8, {}),  # MODEL: = 22000.1516 layout [S1]
        "_HMAP_ENTRY": Struct(0x18, {}),  # MODEL: = 22000.1516 layout [S1]
        "_KMUTANT": Struct(0x38, {}),  # MODEL: = 22000.1516 layout [S1]
        "_KTHREAD": Struct(0x480, {}),  # MODEL: = 22000.1516 layout [S1]
        "_KTIMER": Struct(0x40, {}),  # MODEL: = 22000.1516 layout [S1]
        "_MMVAD": Struct(0x88, {}),  # MODEL: = 22000.1516 layout [S1]
        "_MMVAD_SHORT": Struct(0x40, {}),  # MODEL: = 22000.1516 layout [S1]
        "_OBJECT_HEADER": Struct(0x38, {}),  # MODEL: = 22000.1516 layout [S1]
        "_OBJECT_SYMBOLIC_LINK": Struct(0x28, {}),  # MODEL: = 22000.1516 layout [S1]
        "_POOL_LIMIT_TABLE_ENTRY": Struct(0x70, {}),  # MODEL: = 22000.1516 layout [S1]
        "_SHARED_CACHE_MAP": Struct(0x258, {}),  # MODEL: = 22000.1516 layout [S1]
        "_TOKEN": Struct(0x498, {}),  # MODEL: = 22000.1516 layout [S1]
        "_VACB": Struct(0x28, {}),  # MODEL: = 22000.1516 layout [S1]
    },
    enums={  # MODEL: = 22000.1516 constants [S1]
        "_NT_PRODUCT_TYPE": Enum("i32", {
            "NtProductWinNt": 1,
            "NtProductLanManNt": 2,
            "NtProductServer": 3,
        }),
        "_POOL_TYPE": Enum("i32", {
            "NonPagedPool": 0,
            "NonPagedPoolBase": 0,
            "NonPagedPoolExecute": 0,
            "PagedPool": 1,
            "NonPagedPoolBaseMustSucceed": 2,
            "NonPagedPoolMustSucceed": 2,
            "DontUseThisType": 3,
            "NonPagedPoolBaseCacheAligned": 4,
            "NonPagedPoolCacheAligned": 4,
            "PagedPoolCacheAligned": 5,
            "NonPagedPoolBaseCacheAlignedMustS": 6,
            "NonPagedPoolCacheAlignedMustS": 6,
            "MaxPoolType": 7,
            "NonPagedPoolSession": 32,
            "PagedPoolSession": 33,
            "NonPagedPoolMustSucceedSession": 34,
            "DontUseThisTypeSession": 35,
            "NonPagedPoolCacheAlignedSession": 36,
            "PagedPoolCacheAlignedSession": 37,
            "NonPagedPoolCacheAlignedMustSSession": 38,
            "NonPagedPoolNx": 512,
            "NonPagedPoolNxCacheAligned": 516,
            "NonPagedPoolSessionNx": 544,
        }),
    },
    symbols={  # chosen: 22000.1516 RVA [S1] + 0x40000
        "PoolBigPageTable": 0xc55730,  # chosen (0xc15730 + 0x40000)
        "PoolBigPageTableSize": 0xc516f0,  # chosen (0xc116f0 + 0x40000)
        "ExpPoolBigEntriesInUse": 0xd71100,  # chosen (0xd31100 + 0x40000)
        "PoolTrackTable": 0xc516c8,  # chosen (0xc116c8 + 0x40000)
        "PoolTrackTableSize": 0xc516d0,  # chosen (0xc116d0 + 0x40000)
        "PoolTrackTableMask": 0xc55728,  # chosen (0xc15728 + 0x40000)
        "PoolTrackTableExpansion": 0xc55720,  # chosen (0xc15720 + 0x40000)
        "PoolTrackTableExpansionSize": 0xc55738,  # chosen (0xc15738 + 0x40000)
        "ExPoolTagTables": 0xc51720,  # chosen (0xc11720 + 0x40000)
        "PoolHitTag": 0xd45128,  # chosen (0xd05128 + 0x40000)
        "MmVerifierData": 0xc69f00,  # chosen (0xc29f00 + 0x40000)
        "VfSuspectDriversList": 0xc5b000,  # chosen (0xc1b000 + 0x40000)
        "ViTargetDriversAvl": 0xc5afa0,  # chosen (0xc1afa0 + 0x40000)
        "VfPoolTraces": 0xd985a8,  # chosen (0xd585a8 + 0x40000)
        "VfPoolTracesIndex": 0xd98604,  # chosen (0xd58604 + 0x40000)
        "VfPoolTracesLength": 0xd98518,  # chosen (0xd58518 + 0x40000)
        "PsLoadedModuleList": 0xc69b60,  # chosen (0xc29b60 + 0x40000)
        "PsActiveProcessHead": 0xc5bf40,  # chosen (0xc1bf40 + 0x40000)
        "KdDebuggerDataBlock": 0xc42190,  # chosen (0xc02190 + 0x40000)
        "KdVersionBlock": 0xc49758,  # chosen (0xc09758 + 0x40000)
        "KeNumberProcessors": 0xd46884,  # chosen (0xd06884 + 0x40000)
        "CmNtCSDVersion": 0xc8e548,  # chosen (0xc4e548 + 0x40000)
        "NtBuildLab": 0xc8e660,  # chosen (0xc4e660 + 0x40000)
        "NtBuildLabEx": 0xc8e560,  # chosen (0xc4e560 + 0x40000)
        "MmUnloadedDrivers": 0xc69748,  # chosen (0xc29748 + 0x40000)
        "MmLastUnloadedDriver": 0xc69750,  # chosen (0xc29750 + 0x40000)
        "KiProcessorBlock": 0xd488c0,  # chosen (0xd088c0 + 0x40000)
        "MmSpecialPoolTag": 0xd469ec,  # chosen (0xd069ec + 0x40000)
        "MmSizeOfPagedPoolInBytes": 0xd46cb0,  # chosen (0xd06cb0 + 0x40000)
        "KeBootTime": 0xd46bc0,  # chosen (0xd06bc0 + 0x40000)
        "KiBugCheckData": 0xc71d60,  # chosen (0xc31d60 + 0x40000)
    },
    functions={  # chosen RVA: 22000.1516 RVA + 0x40000; extent: 22000.1516 extent (MODEL)
        "ExAllocatePoolWithTag": Function(0xaad770, 0xa0),  # chosen/MODEL
        "ExAllocatePool2": Function(0xaad290, 0x4e0),  # chosen/MODEL
        "ExAllocatePoolWithQuotaTag": Function(0x30ae20, 0x34),  # chosen/MODEL
        "ExFreePoolWithTag": Function(0xaad810, 0x20),  # chosen/MODEL
        "ExFreePool": Function(0xaad810, 0x20),  # chosen/MODEL
        "ExAllocateHeapPool": Function(0x27ff90, 0xcd0),  # chosen/MODEL
        "ExFreeHeapPool": Function(0x283390, 0x870),  # chosen/MODEL
        "VerifierExAllocatePoolWithTag": Function(0xabdf50, 0x130),  # chosen/MODEL
        "VerifierExAllocatePool2": Function(0xacf0a0, 0x140),  # chosen/MODEL
        "VerifierExFreePoolWithTag": Function(0xabe0f0, 0x52),  # chosen/MODEL
        "ViFreeTrackedPool": Function(0xacfa8c, 0x204),  # chosen/MODEL
        "ViPtLogStackTrace": Function(0xadcfcc, 0x114),  # chosen/MODEL
        "IovCallDriver": Function(0xabf300, 0x2b8),  # chosen/MODEL
        "IofCallDriver": Function(0x282a10, 0x80),  # chosen/MODEL
        "IopSynchronousServiceTail": Function(0x6d4a00, 0x520),  # chosen/MODEL
        "IopXxxControlFile": Function(0x6d3d00, 0xd00),  # chosen/MODEL
        "NtDeviceIoControlFile": Function(0x6d3c90, 0x70),  # chosen/MODEL
        "KiSystemServiceCopyEnd": Function(0x470760, 0x30),  # chosen/MODEL
        "IopDeleteFile": Function(0x6ba520, 0x280),  # chosen/MODEL
        "ObpRemoveObjectRoutine": Function(0x6d8bc0, 0xe0),  # chosen/MODEL
        "ObfDereferenceObjectWithTag": Function(0x282fe0, 0xf0),  # chosen/MODEL
        "ObfDereferenceObject": Function(0x2850e0, 0xc0),  # chosen/MODEL
        "ExSweepHandleTable": Function(0x6f17c0, 0x160),  # chosen/MODEL
        "ObKillProcess": Function(0x773ec4, 0x6c),  # chosen/MODEL
        "PspRundownSingleProcess": Function(0x6fd9d0, 0x414),  # chosen/MODEL
        "PspExitThread": Function(0x6f3e2c, 0x790),  # chosen/MODEL
        "KiSchedulerApcTerminate": Function(0x7e12e0, 0x40),  # chosen/MODEL
        "KeBugCheckEx": Function(0x45bd30, 0x130),  # chosen/MODEL
        "KiBreakpointTrap": Function(0x469940, 0x340),  # chosen/MODEL
        "KiExceptionDispatch": Function(0x471080, 0x4c0),  # chosen/MODEL
        "KiDispatchException": Function(0x33c300, 0x5c0),  # chosen/MODEL
        "DbgBreakPoint": Function(0x465d00, 0x10),  # chosen/MODEL
        "KiSystemCall64": Function(0x4702c0, 0x266),  # chosen/MODEL
        "PspSystemThreadStartup": Function(0x394200, 0x88),  # chosen/MODEL
        "KiStartSystemThread": Function(0x460c20, 0x50),  # chosen/MODEL
    },
    tag_table_slots=2048,  # MODEL: = 22000 (ExPoolTagTables gap 0x4000 / 8)
    kdbg_size=0x380,  # MODEL: = 22000 (RS5+Iron KDDEBUGGER_DATA64, 0x380)
    sources=(
        "JPCERTCC/Windows-Symbol-Tables symbols/windows/ntkrnlmp.pdb/0B0A89438BE7729EB33FD00A7D6FA816-1.json.xz (BSD-3-Clause), as MODEL for 24H2",
    ),
)
