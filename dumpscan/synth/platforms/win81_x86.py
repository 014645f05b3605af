"""Layout tables of a synthetic Windows 8.1 x86 PAE kernel (ntkrpamp.pdb, 6.3.9600.17031).

No symbol table (ISF/PDB) for an 8.1 x86 kernel is available to this project, so this
platform is SYNTHETIC: ``real_symbols=False``, the GUID is made up (it spells "D5CA" =
dumpscan, build 9600) and every RVA and function extent is chosen.

Sources of the type layouts (cited per type below; see docs/layouts.md):

* S2 = ntdiff/headers, ``Win8.1/x86/System32/ntoskrnl.exe/ALL_SORTED.h`` (commit 34fa37e4),
  generated from the Windows 8.1 x86 kernel PDB, and ``Standalone/_LDR_DATA_TABLE_ENTRY.h``,
  ``Standalone/_KUSER_SHARED_DATA.h``, ``Standalone/_VF_TARGET_VERIFIED_DRIVER_DATA.h`` of the
  same directory. Sizes and offsets below were read from these files [VERIFIED].
* S3 = AndreyBazhan/SymStore ``ntoskrnl.exe-6.3.9600.19358-x86.h`` (via the design doc
  ../shared/design/windows-pool-structures.md, W81x86 columns) [VERIFIED there].
* S13 = Vergilius Project, x86 ``_MI_VERIFIER_POOL_HEADER`` (via the design doc).
* Values marked [M+] are inferred from neighbouring offsets in S2 (e.g. a type's size from
  the offset of the member that follows it inside another type); [MODEL] and "chosen" are
  this project's choices.

Anonymous member types are named ``__unnamed_<n>`` after the ``_TAG_UNNAMED_<n>`` numbers
S2 prints for them (chosen names; an ISF generated from the real PDB would use other
numbers). The ISF shape (anonymous unions flattened into their parent, as Volatility3's
pdbconv does) follows the real x64 ISFs [MODEL for x86].

Which functions exist on 8.1 x86 is MODEL: the names of the x64 list that are x64-only
(KiSystemCall64, KiSystemServiceCopyEnd, KiBreakpointTrap, KiExceptionDispatch,
KiStartSystemThread) or Windows 10+ only (ExAllocatePool2, VerifierExAllocatePool2,
ExAllocateHeapPool, ExFreeHeapPool, ViPtLogStackTrace) are left out; ExpFreeBigPages is
left out because no build examined has it; KiSystemServicePostCall (the x86 system-service
return label) is included.
"""
from dumpscan.synth.platforms.base import Enum, Function, Platform, Struct

PLATFORM = Platform(
    name="win81-x86",
    description="Windows 8.1 x86 PAE 6.3.9600.17031 (synthetic symbols)",
    machine="x86",
    pae=True,  # 8.1 x86 ships only the PAE kernel [design doc 0.4, S3 manifest]
    pdb_name="ntkrpamp.pdb",  # [M+] design doc 0.4 (S3 manifest pairing, Volatility3 kernel-name list)
    guid="D5CA0000000000000000000000009600",  # chosen: synthetic, valid 32 upper-hex digits
    age=1,  # chosen
    version=(6, 3, 9600, 17031),  # chosen: 8.1 Update build (S3 also has a 17031 x86 header)
    real_symbols=False,
    kernel_image_size=0x5F0000,  # chosen ("about 0x5F0000"); every RVA below fits
    types={
        # ---- Volatility3's 29 required types, size only [V S2 ALL_SORTED.h unless noted]
        "_ETHREAD": Struct(0x418, {}),  # S2 /* size: 0x0418 */
        "_KTHREAD": Struct(0x338, {}),  # [M+] S2: _ETHREAD.Tcb @0 is followed by CreateTime @0x338
        "_EPROCESS": Struct(0x2F8, {}),  # S2 /* size: 0x02f8 */
        "_ERESOURCE": Struct(0x38, {}),  # S2 /* size: 0x0038 */
        "_EX_FAST_REF": Struct(0x4, {}),  # [M+] S2: _EPROCESS.Token @0xec, next member @0xf0
        "_TOKEN": Struct(0x290, {}),  # S2 /* size: 0x0290 */
        "_OBJECT_HEADER": Struct(0x20, {}),  # S2 /* size: 0x0020 */
        "_FILE_OBJECT": Struct(0x80, {}),  # [M+] S2: _DUMMY_FILE_OBJECT.FileObjectBody[128]
        "_DEVICE_OBJECT": Struct(0xB8, {}),  # S2 /* size: 0x00b8 */
        "_CM_KEY_BODY": Struct(0x2C, {}),  # S2 /* size: 0x002c */
        "_CMHIVE": Struct(0xC20, {}),  # S2 /* size: 0x0c20 */
        "_CM_KEY_NODE": Struct(0x50, {}),  # S2 /* size: 0x0050 */
        "_CM_KEY_VALUE": Struct(0x18, {}),  # S2 /* size: 0x0018 */
        "_HMAP_ENTRY": Struct(0xC, {}),  # S2 /* size: 0x000c */
        "_MMVAD_SHORT": Struct(0x28, {}),  # S2 /* size: 0x0028 */
        "_MMVAD": Struct(0x48, {}),  # S2 /* size: 0x0048 */
        "_KMUTANT": Struct(0x20, {}),  # [M+] S2: _PNP_DEVICE_EVENT_LIST.EventQueueMutex @4, Lock @0x24
        "_DRIVER_OBJECT": Struct(0xA8, {}),  # S2 /* size: 0x00a8 */
        "_OBJECT_SYMBOLIC_LINK": Struct(0x18, {}),  # S2 /* size: 0x0018 */
        "_CONTROL_AREA": Struct(0x50, {}),  # S2 /* size: 0x0050 */
        "_SHARED_CACHE_MAP": Struct(0x170, {}),  # S2 /* size: 0x0170 */
        "_VACB": Struct(0x18, {}),  # S2 /* size: 0x0018 */
        "_KTIMER": Struct(0x28, {}),  # [M+] S2: _ETIMER.KeTimer @0, Lock @0x28
        # ---- common small types, all fields [V S2]
        "_LIST_ENTRY": Struct(0x8, {  # S2
            "Flink": (0x0, "ptr:_LIST_ENTRY"),
            "Blink": (0x4, "ptr:_LIST_ENTRY"),
        }),
        "_SINGLE_LIST_ENTRY": Struct(0x4, {  # S2
            "Next": (0x0, "ptr:_SINGLE_LIST_ENTRY"),
        }),
        "_UNICODE_STRING": Struct(0x8, {  # S2 (Buffer is "unsigned short*" on 8.1 x86)
            "Length": (0x0, "u16"),
            "MaximumLength": (0x2, "u16"),
            "Buffer": (0x4, "ptr:u16"),
        }),
        "_KSYSTEM_TIME": Struct(0xC, {  # S2 Standalone/_KUSER_SHARED_DATA.h
            "LowPart": (0x0, "u32"),
            "High1Time": (0x4, "i32"),
            "High2Time": (0x8, "i32"),
        }),
        "_IMAGE_DOS_HEADER": Struct(0x40, {  # S2
            "e_magic": (0x0, "u16"),
            "e_cblp": (0x2, "u16"),
            "e_cp": (0x4, "u16"),
            "e_crlc": (0x6, "u16"),
            "e_cparhdr": (0x8, "u16"),
            "e_minalloc": (0xA, "u16"),
            "e_maxalloc": (0xC, "u16"),
            "e_ss": (0xE, "u16"),
            "e_sp": (0x10, "u16"),
            "e_csum": (0x12, "u16"),
            "e_ip": (0x14, "u16"),
            "e_cs": (0x16, "u16"),
            "e_lfarlc": (0x18, "u16"),
            "e_ovno": (0x1A, "u16"),
            "e_res": (0x1C, "u16[4]"),
            "e_oemid": (0x24, "u16"),
            "e_oeminfo": (0x26, "u16"),
            "e_res2": (0x28, "u16[10]"),
            "e_lfanew": (0x3C, "i32"),
        }),
        "_DBGKD_GET_VERSION64": Struct(0x28, {  # S2 (architecture-independent layout)
            "MajorVersion": (0x0, "u16"),
            "MinorVersion": (0x2, "u16"),
            "ProtocolVersion": (0x4, "u8"),
            "KdSecondaryVersion": (0x5, "u8"),
            "Flags": (0x6, "u16"),
            "MachineType": (0x8, "u16"),
            "MaxPacketType": (0xA, "u8"),
            "MaxStateChange": (0xB, "u8"),
            "MaxManipulate": (0xC, "u8"),
            "Simulation": (0xD, "u8"),
            "Unused": (0xE, "u16[1]"),
            "KernBase": (0x10, "u64"),
            "PsLoadedModuleList": (0x18, "u64"),
            "DebuggerDataList": (0x20, "u64"),
        }),
        # ---- loaded modules: listed fields only [V S2 Standalone/_LDR_DATA_TABLE_ENTRY.h];
        # 8.1 has no public _KLDR_DATA_TABLE_ENTRY (design doc 5)
        "_LDR_DATA_TABLE_ENTRY": Struct(0xA0, {  # S2 /* size: 0x00a0 */
            "InLoadOrderLinks": (0x0, "_LIST_ENTRY"),
            "InMemoryOrderLinks": (0x8, "_LIST_ENTRY"),
            "InInitializationOrderLinks": (0x10, "_LIST_ENTRY"),
            "DllBase": (0x18, "ptr"),
            "EntryPoint": (0x1C, "ptr"),
            "SizeOfImage": (0x20, "u32"),
            "FullDllName": (0x24, "_UNICODE_STRING"),
            "BaseDllName": (0x2C, "_UNICODE_STRING"),
            "Flags": (0x34, "u32"),
            "ObsoleteLoadCount": (0x38, "u16"),
        }),
        # ---- KUSER_SHARED_DATA: listed fields that exist on 8.1 (no NtBuildNumber)
        "_KUSER_SHARED_DATA": Struct(0x5F0, {  # S2 Standalone/_KUSER_SHARED_DATA.h, size 0x5f0
            "TickCountLowDeprecated": (0x0, "u32"),
            "TickCountMultiplier": (0x4, "u32"),
            "InterruptTime": (0x8, "_KSYSTEM_TIME"),
            "SystemTime": (0x14, "_KSYSTEM_TIME"),
            "TimeZoneBias": (0x20, "_KSYSTEM_TIME"),
            "ImageNumberLow": (0x2C, "u16"),
            "ImageNumberHigh": (0x2E, "u16"),
            "NtSystemRoot": (0x30, "wchar[260]"),
            "NtProductType": (0x264, "enum:_NT_PRODUCT_TYPE"),
            "ProductTypeIsValid": (0x268, "u8"),
            "NativeProcessorArchitecture": (0x26A, "u16"),
            "NtMajorVersion": (0x26C, "u32"),
            "NtMinorVersion": (0x270, "u32"),
            "KdDebuggerEnabled": (0x2D4, "u8"),
            "NumberOfPhysicalPages": (0x2E8, "u32"),
            "SafeBootMode": (0x2EC, "u8"),
            "TickCount": (0x320, "_KSYSTEM_TIME"),
        }),
        # ---- pool [V S2 ALL_SORTED.h; S3 per design doc 1.2, 2.2]
        "_POOL_TRACKER_BIG_PAGES": Struct(0x10, {  # S2 /* size: 0x0010 */
            "Va": (0x0, "u32"),
            "Key": (0x4, "u32"),
            "PoolType": (0x8, "u32"),
            "NumberOfBytes": (0xC, "u32"),
        }),
        "_POOL_TRACKER_TABLE": Struct(0x1C, {  # S2 /* size: 0x001c */
            "Key": (0x0, "i32"),
            "NonPagedAllocs": (0x4, "u32"),
            "NonPagedFrees": (0x8, "u32"),
            "NonPagedBytes": (0xC, "u32"),
            "PagedAllocs": (0x10, "u32"),
            "PagedFrees": (0x14, "u32"),
            "PagedBytes": (0x18, "u32"),
        }),
        "_POOL_HEADER": Struct(0x8, {  # S2 /* size: 0x0008 */ (9-bit block sizes on x86)
            "PreviousSize": (0x0, "u16{0:9}"),
            "PoolIndex": (0x0, "u16{9:7}"),
            "Ulong1": (0x0, "u32"),
            "BlockSize": (0x2, "u16{0:9}"),
            "PoolType": (0x2, "u16{9:7}"),
            "PoolTag": (0x4, "u32"),
            "AllocatorBackTraceIndex": (0x4, "u16"),
            "PoolTagHash": (0x6, "u16"),
        }),
        # ---- Driver Verifier [V S2 ALL_SORTED.h; S3 per design doc 3.2-3.8]
        "_MM_DRIVER_VERIFIER_DATA": Struct(0x84, {  # S2 /* size: 0x0084 */
            "Level": (0x0, "u32"),
            "RaiseIrqls": (0x4, "u32"),
            "AcquireSpinLocks": (0x8, "u32"),
            "SynchronizeExecutions": (0xC, "u32"),
            "AllocationsAttempted": (0x10, "u32"),
            "AllocationsSucceeded": (0x14, "u32"),
            "AllocationsSucceededSpecialPool": (0x18, "u32"),
            "AllocationsWithNoTag": (0x1C, "u32"),
            "TrimRequests": (0x20, "u32"),
            "Trims": (0x24, "u32"),
            "AllocationsFailed": (0x28, "u32"),
            "AllocationsFailedDeliberately": (0x2C, "u32"),
            "Loads": (0x30, "u32"),
            "Unloads": (0x34, "u32"),
            "UnTrackedPool": (0x38, "u32"),
            "UserTrims": (0x3C, "u32"),
            "CurrentPagedPoolAllocations": (0x40, "u32"),
            "CurrentNonPagedPoolAllocations": (0x44, "u32"),
            "PeakPagedPoolAllocations": (0x48, "u32"),
            "PeakNonPagedPoolAllocations": (0x4C, "u32"),
            "PagedBytes": (0x50, "u32"),
            "NonPagedBytes": (0x54, "u32"),
            "PeakPagedBytes": (0x58, "u32"),
            "PeakNonPagedBytes": (0x5C, "u32"),
            "BurstAllocationsFailedDeliberately": (0x60, "u32"),
            "SessionTrims": (0x64, "u32"),
            "OptionChanges": (0x68, "u32"),
            "VerifyMode": (0x6C, "u32"),
            "PreviousBucketName": (0x70, "_UNICODE_STRING"),
            "ActivityCounter": (0x78, "u32"),
            "PreviousActivityCounter": (0x7C, "u32"),
            "WorkerTrimRequests": (0x80, "u32"),
        }),
        "_VF_SUSPECT_DRIVER_ENTRY": Struct(0x18, {  # S2 /* size: 0x0018 */
            "Links": (0x0, "_LIST_ENTRY"),
            "Loads": (0x8, "u32"),
            "Unloads": (0xC, "u32"),
            "BaseName": (0x10, "_UNICODE_STRING"),
        }),
        "_VF_AVL_TREE": Struct(0x14, {  # S2 /* size: 0x0014 */
            "NodeRangeSize": (0x0, "u32"),
            "NodeCount": (0x4, "u32"),
            "Tables": (0x8, "ptr:_VF_AVL_TABLE"),
            "TablesNo": (0xC, "u32"),
            "u1": (0x10, "__unnamed_186"),
        }),
        "_VF_AVL_TABLE": Struct(0x80, {  # S2 /* size: 0x0080 */ (Lock padded to 0x80)
            "RtlTable": (0x0, "_RTL_AVL_TABLE"),
            "ReservedNode": (0x38, "ptr:_VF_AVL_TREE_NODE"),
            "NodeToFree": (0x3C, "ptr"),
            "Lock": (0x40, "i32"),
        }),
        "_RTL_AVL_TABLE": Struct(0x38, {  # S2/S3 per design doc 3.4 (x86 column); types as x64 ISF
            "BalancedRoot": (0x0, "_RTL_BALANCED_LINKS"),
            "OrderedPointer": (0x10, "ptr"),
            "WhichOrderedElement": (0x14, "u32"),
            "NumberGenericTableElements": (0x18, "u32"),
            "DepthOfTree": (0x1C, "u32"),
            "RestartKey": (0x20, "ptr:_RTL_BALANCED_LINKS"),
            "DeleteCount": (0x24, "u32"),
            "CompareRoutine": (0x28, "ptr"),
            "AllocateRoutine": (0x2C, "ptr"),
            "FreeRoutine": (0x30, "ptr"),
            "TableContext": (0x34, "ptr"),
        }),
        "_RTL_BALANCED_LINKS": Struct(0x10, {  # S2/S3 per design doc 3.4 (x86 column)
            "Parent": (0x0, "ptr:_RTL_BALANCED_LINKS"),
            "LeftChild": (0x4, "ptr:_RTL_BALANCED_LINKS"),
            "RightChild": (0x8, "ptr:_RTL_BALANCED_LINKS"),
            "Balance": (0xC, "i8"),
            "Reserved": (0xD, "u8[3]"),
        }),
        "_VF_AVL_TREE_NODE": Struct(0x8, {  # S2 /* size: 0x0008 */ (no _VF_AVL_TREE_NODE_EX on 8.1)
            "p": (0x0, "ptr"),
            "RangeSize": (0x4, "u32"),
        }),
        "_VF_TARGET_DRIVER": Struct(0x1C, {  # S2 /* size: 0x001c */
            "TreeNode": (0x0, "_VF_AVL_TREE_NODE"),
            "u1": (0x8, "__unnamed_187"),
            "VerifiedData": (0x18, "ptr:_VF_TARGET_VERIFIED_DRIVER_DATA"),
        }),
        "_VF_TARGET_ALL_SHARED_EXPORT_THUNKS": Struct(0x10, {  # S2 /* size: 0x0010 */
            # the pointee _VERIFIER_SHARED_EXPORT_THUNK is only forward-declared in S2 -> ptr
            "SharedExportThunks": (0x0, "ptr"),
            "PoolSharedExportThunks": (0x4, "ptr"),
            "OrderDependentSharedExportThunks": (0x8, "ptr"),
            "XdvSharedExportThunks": (0xC, "ptr"),
        }),
        "_VF_TARGET_VERIFIED_DRIVER_DATA": Struct(0x90, {  # S2 (ALL_SORTED.h and Standalone)
            "SuspectDriverEntry": (0x0, "ptr:_VF_SUSPECT_DRIVER_ENTRY"),
            "WMICallback": (0x4, "ptr"),
            "EtwHandlesListHead": (0x8, "_LIST_ENTRY"),
            "u1": (0x10, "__unnamed_189"),
            "Signature": (0x14, "u32"),
            "PoolPageHeaders": (0x18, "_SLIST_HEADER"),
            "PoolTrackers": (0x20, "_SLIST_HEADER"),
            "CurrentPagedPoolAllocations": (0x28, "u32"),
            "CurrentNonPagedPoolAllocations": (0x2C, "u32"),
            "PeakPagedPoolAllocations": (0x30, "u32"),
            "PeakNonPagedPoolAllocations": (0x34, "u32"),
            "PagedBytes": (0x38, "u32"),
            "NonPagedBytes": (0x3C, "u32"),
            "PeakPagedBytes": (0x40, "u32"),
            "PeakNonPagedBytes": (0x44, "u32"),
            "RaiseIrqls": (0x48, "u32"),
            "AcquireSpinLocks": (0x4C, "u32"),
            "SynchronizeExecutions": (0x50, "u32"),
            "AllocationsWithNoTag": (0x54, "u32"),
            "AllocationsFailed": (0x58, "u32"),
            "AllocationsFailedDeliberately": (0x5C, "u32"),
            "LockedBytes": (0x60, "u32"),
            "PeakLockedBytes": (0x64, "u32"),
            "MappedLockedBytes": (0x68, "u32"),
            "PeakMappedLockedBytes": (0x6C, "u32"),
            "MappedIoSpaceBytes": (0x70, "u32"),
            "PeakMappedIoSpaceBytes": (0x74, "u32"),
            "PagesForMdlBytes": (0x78, "u32"),
            "PeakPagesForMdlBytes": (0x7C, "u32"),
            "ContiguousMemoryBytes": (0x80, "u32"),
            "PeakContiguousMemoryBytes": (0x84, "u32"),
            "ContiguousMemoryListHead": (0x88, "_LIST_ENTRY"),
        }),
        "_VI_POOL_PAGE_HEADER": Struct(0xC, {  # S2 /* size: 0x000c */
            "NextPage": (0x0, "ptr:_SINGLE_LIST_ENTRY"),
            "VerifierEntry": (0x4, "ptr"),
            "Signature": (0x8, "u32"),
        }),
        "_VI_POOL_ENTRY_INUSE": Struct(0x10, {  # S2 /* size: 0x0010 */
            "VirtualAddress": (0x0, "ptr"),
            "CallingAddress": (0x4, "ptr"),
            "NumberOfBytes": (0x8, "u32"),
            "Tag": (0xC, "u32"),
        }),
        "_VI_POOL_ENTRY": Struct(0x10, {  # S2 /* size: 0x0010 */ (struct holding a union)
            "InUse": (0x0, "_VI_POOL_ENTRY_INUSE"),
            "NextFree": (0x0, "ptr:_SINGLE_LIST_ENTRY"),
            "PageHeader": (0x0, "_VI_POOL_PAGE_HEADER"),
        }),
        "_MI_VERIFIER_POOL_HEADER": Struct(0x4, {  # S13 Vergilius x86 via design doc 3.6
            "VerifierPoolEntry": (0x0, "ptr:_VI_POOL_ENTRY"),
        }),
        "_VF_POOL_TRACE": Struct(0x40, {  # S2 /* size: 0x0040 */
            "Address": (0x0, "ptr"),
            "Size": (0x4, "u32"),
            "Thread": (0x8, "ptr:_ETHREAD"),
            "StackTrace": (0xC, "ptr[13]"),
        }),
        "_SLIST_HEADER": Struct(0x8, {  # S2 /* size: 0x0008 */ (anonymous struct flattened)
            "Alignment": (0x0, "u64"),
            "Next": (0x0, "_SINGLE_LIST_ENTRY"),
            "Depth": (0x4, "u16"),
            "CpuId": (0x6, "u16"),
        }, kind="union"),
        # ---- anonymous member types [V S2 layouts; names chosen after S2's _TAG_UNNAMED_<n>]
        "__unnamed_186": Struct(0x4, {  # S2 _VF_AVL_TREE.u1
            "NodeSize": (0x0, "u32"),
            "UseLookaside": (0x0, "u32"),
        }, kind="union"),
        "__unnamed_187": Struct(0x10, {  # S2 _VF_TARGET_DRIVER.u1
            "AllSharedExportThunks": (0x0, "_VF_TARGET_ALL_SHARED_EXPORT_THUNKS"),
            "Flags": (0x0, "__unnamed_188"),
        }, kind="union"),
        "__unnamed_188": Struct(0x4, {  # S2 _VF_TARGET_DRIVER.u1.Flags
            "SnapSharedExportsFailed": (0x0, "u32{0:1}"),
            "Spare": (0x0, "u32{1:31}"),
        }),
        "__unnamed_189": Struct(0x4, {  # S2 _VF_TARGET_VERIFIED_DRIVER_DATA.u1
            "Flags": (0x0, "__unnamed_190"),
            "Whole": (0x0, "u32"),
        }, kind="union"),
        "__unnamed_190": Struct(0x4, {  # S2 _VF_TARGET_VERIFIED_DRIVER_DATA.u1.Flags
            "MissedEtwRegistration": (0x0, "u32{0:1}"),
            "Spare": (0x0, "u32{1:31}"),
        }),
    },
    enums={
        # the 7601 and 19041 ISFs agree on these values (MiVaNonPagedPool 5, MiVaPagedPool 6)
        "_MI_SYSTEM_VA_TYPE": Enum("i32", {
            "MiVaUnused": 0, "MiVaSessionSpace": 1, "MiVaProcessSpace": 2, "MiVaBootLoaded": 3,
            "MiVaPfnDatabase": 4, "MiVaNonPagedPool": 5, "MiVaPagedPool": 6,
            "MiVaSpecialPoolPaged": 7, "MiVaSystemCache": 8, "MiVaSystemPtes": 9, "MiVaHal": 10,
            "MiVaSessionGlobalSpace": 11, "MiVaDriverImages": 12, "MiVaSpecialPoolNonPaged": 13,
            "MiVaMaximumType": 14}),
        # S2: enum constants; base "int" in PDB-derived ISFs, spelled i32 in our notation
        "_NT_PRODUCT_TYPE": Enum("i32", {
            "NtProductWinNt": 1,
            "NtProductLanManNt": 2,
            "NtProductServer": 3,
        }),
        "_POOL_TYPE": Enum("i32", {  # S2 (same constants as the 19041 x64 ISF)
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
    # Global RVAs: all chosen, in a notional .data section 0x4C0000-0x520000 (strings in
    # .rdata at 0x3F8000). Each global gets room for what the factory writes there (4-byte
    # pointers/counters, inline structs at their S2 size); the pool-tracking block mirrors
    # the real W7 order, so PoolBigPageTable (4-byte pointer) is followed 4 bytes later by
    # PoolTrackTableExpansionSize, as the design doc (1.1, 7) relies on.
    symbols={
        "PoolBigPageTable": 0x4D2A44,  # chosen; ptr (4)
        "PoolBigPageTableSize": 0x4D2A40,  # chosen; SIZE_T (4)
        "ExpPoolBigEntriesInUse": 0x4F6100,  # chosen; ULONG (4)
        "PoolTrackTable": 0x4D2A58,  # chosen; ptr (4)
        "PoolTrackTableSize": 0x4D2A54,  # chosen; SIZE_T (4)
        "PoolTrackTableMask": 0x4D2A50,  # chosen; SIZE_T (4)
        "PoolTrackTableExpansion": 0x4D2A4C,  # chosen; ptr (4)
        "PoolTrackTableExpansionSize": 0x4D2A48,  # chosen; SIZE_T (4)
        "ExPoolTagTables": 0x4D2A60,  # chosen; ptr[32] = 0x80 (tag_table_slots)
        "ExpSessionPoolTrackTable": 0x4D2AE0,  # chosen; ptr (4)
        "PoolHitTag": 0x4C5018,  # chosen; ULONG (4)
        "VpPoolHitTag": 0x4E7240,  # chosen; ULONG (4) (exists on W7/W81: design doc 0.4)
        "MmVerifierData": 0x4DA0E0,  # chosen; _MM_DRIVER_VERIFIER_DATA inline (0x84)
        "VfSuspectDriversList": 0x4D9230,  # chosen; _LIST_ENTRY (8)
        "ViTargetDriversAvl": 0x4D9240,  # chosen; _VF_AVL_TREE inline (0x14)
        "VfPoolTraces": 0x51A128,  # chosen; ptr (4)
        "VfPoolTracesIndex": 0x51A14C,  # chosen; ULONG (4)
        "VfPoolTracesLength": 0x51A058,  # chosen; ULONG (4)
        "PsLoadedModuleList": 0x4DA1D0,  # chosen; _LIST_ENTRY (8)
        "PsActiveProcessHead": 0x4DA1D8,  # chosen; _LIST_ENTRY (8)
        "KdDebuggerDataBlock": 0x4C8130,  # chosen; KDDEBUGGER_DATA64 (kdbg_size 0x360)
        "KdVersionBlock": 0x4C80E8,  # chosen; _DBGKD_GET_VERSION64 (0x28)
        "KeNumberProcessors": 0x4D1A2C,  # chosen; ULONG (4)
        "CmNtCSDVersion": 0x4E723C,  # chosen; ULONG (4)
        "NtBuildLab": 0x3F8150,  # chosen; char[0xE0] (the x64 builds' spacing)
        "NtBuildLabEx": 0x3F8230,  # chosen; char[0xE0]
        "MmUnloadedDrivers": 0x4DA1F0,  # chosen; ptr (4)
        "MmLastUnloadedDriver": 0x4DA1F4,  # chosen; ULONG (4)
        "KiProcessorBlock": 0x4F1D80,  # chosen; ptr[32] = 0x80
        "MmSpecialPoolTag": 0x4D4B10,  # chosen; ULONG (4)
        "MmSizeOfPagedPoolInBytes": 0x4F0A10,  # chosen; SIZE_T (4)
        "MmMaximumNonPagedPoolInBytes": 0x4F0A14,  # chosen; SIZE_T (4) (exists on W7: MODEL)
        "MmSizeOfNonPagedPoolInBytes": 0x4F0A18,  # chosen; SIZE_T (4) (exists on W7: MODEL)
        "KeBootTime": 0x4F1D50,  # chosen; LARGE_INTEGER (8), 8-aligned
        "MmNumberOfPhysicalPages": 0x4F0A1C,  # chosen; ULONG (4) (exists on W7: MODEL)
        "MmSystemRangeStart": 0x4F0A20,  # chosen; ptr (4) (exists on W7 x64 and 10: ISF)
        # UCHAR[1024], one _MI_SYSTEM_VA_TYPE per 2 MiB of system space from
        # MmSystemRangeStart (segment-heap-pool.md §8 x86, V [V3, ISF enum])
        "MiSystemVaType": 0x4F2000,  # chosen
        "KiBugCheckData": 0x4E4780,  # chosen; ULONG_PTR[5] = 0x14
    },
    # Function RVAs and extents: chosen (0x200..0x1200 bytes each, no overlaps), in a
    # notional .text/PAGE range 0x60000-0x390000. Which names exist: MODEL (docstring).
    functions={
        # RVAs of the functions the Driver Verifier article prints (../shared/seeds, nt loaded
        # at 0x81000000): the printed address minus the printed offset [article]; the others
        # are chosen. Extent = distance to the next symbol of this table.
        "ExAllocatePoolWithTag": Function(0x12F200, 0x1600),  # chosen
        "ExAllocatePoolWithQuotaTag": Function(0x1A2200, 0xAD220),  # chosen
        "ExFreePoolWithTag": Function(0x24F420, 0x94C60),  # article
        "ExFreePool": Function(0x12CC00, 0x2600),  # chosen
        "ExpAllocateBigPool": Function(0x130800, 0xC00),  # chosen
        "ExDeferredFreePool": Function(0x131400, 0x54F77),  # chosen
        "VerifierExAllocatePoolWithTag": Function(0x52716A, 0x99),  # article
        "VerifierExFreePoolWithTag": Function(0x527203, 0x901E),  # article
        "VeAllocatePoolWithTagPriority": Function(0x37A5C0, 0x1040),  # chosen
        "XdvExAllocatePoolInternal": Function(0x530221, 0xBFDDF),  # article
        "ViFreeTrackedPool": Function(0x37B600, 0x9A20),  # chosen
        "VfFreePoolNotification": Function(0x385020, 0x320),  # chosen
        "ViPoolLogStackTrace": Function(0x385340, 0x22BA2),  # chosen
        "IovCallDriver": Function(0x525871, 0x18F9),  # article
        "IofCallDriver": Function(0x0D39F0, 0x1A40),  # article
        "IopSynchronousServiceTail": Function(0x2E74F0, 0x2A08),  # article
        "IopXxxControlFile": Function(0x2E9F30, 0x4886),  # article
        "NtDeviceIoControlFile": Function(0x2E9EF8, 0x38),  # article
        "KiSystemServicePostCall": Function(0x186377, 0x1BE89),  # article
        "IopDeleteFile": Function(0x2E4080, 0x3470),  # article
        "ObpRemoveObjectRoutine": Function(0x2EE7B6, 0x1766E),  # article
        "ObfDereferenceObjectWithTag": Function(0x0D5430, 0xE5D0),  # article
        "ObfDereferenceObject": Function(0x06E400, 0x53600),  # chosen
        "ExSweepHandleTable": Function(0x34D488, 0x2D138),  # article
        "ObKillProcess": Function(0x34D2A4, 0x1E4),  # article
        "PspRundownSingleProcess": Function(0x34CA90, 0x814),  # article
        "PspExitThread": Function(0x305E24, 0x46C6C),  # article
        "KiSchedulerApcTerminate": Function(0x3A7EE2, 0x5026E),  # article
        "KeBugCheckEx": Function(0x0F4C10, 0x5250),  # chosen
        "KiDispatchException": Function(0x0F9E60, 0x32DA0),  # chosen
        "DbgBreakPoint": Function(0x0E3A00, 0x11210),  # chosen
        "PspSystemThreadStartup": Function(0x0C1A00, 0x11FF0),  # chosen
    },
    tag_table_slots=32,  # MODEL: WRK MAXIMUM_PROCESSOR_TAG_TABLES on x86 (design doc 2.1)
    # KDDEBUGGER_DATA64 through the "Windows 8.1 Addition" (OffsetKThreadWaitReason ends
    # at 0x35E) padded to 8: 0x360 [M+ WDK wdbgexts.h field history]
    kdbg_size=0x360,
    sources=(
        "ntdiff/headers Win8.1/x86/System32/ntoskrnl.exe (ALL_SORTED.h, Standalone/*.h), commit 34fa37e4",
        "AndreyBazhan/SymStore Include/ntoskrnl.exe/ntoskrnl.exe-6.3.9600.19358-x86.h (via design doc)",
        "Vergilius Project x86 _MI_VERIFIER_POOL_HEADER (via design doc)",
        "WDK wdbgexts.h KDDEBUGGER_DATA64 field history (kdbg_size)",
    ),
)
