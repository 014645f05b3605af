; A tiny driver-like DLL whose PDB dumpscan's tests import with Volatility's pdbconv
; (tests/test_symbols_command.py says how it is built).
target datalayout = "e-m:w-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-windows-msvc"

%struct._LEAK_ENTRY = type { %struct._LEAK_ENTRY*, i64, i32, i32 }

@LeakHead = dso_local global %struct._LEAK_ENTRY zeroinitializer, align 8, !dbg !0

define dso_local i32 @PoolLeak(i32 %n) !dbg !20 {
entry:
  %r = add i32 %n, 1, !dbg !25
  ret i32 %r, !dbg !25
}

define dso_local void @_DllMainCRTStartup() {
  ret void
}

!llvm.dbg.cu = !{!2}
!llvm.module.flags = !{!15, !16}

!0 = !DIGlobalVariableExpression(var: !1, expr: !DIExpression())
!1 = distinct !DIGlobalVariable(name: "LeakHead", scope: !2, file: !3, line: 3, type: !6, isLocal: false, isDefinition: true)
!2 = distinct !DICompileUnit(language: DW_LANG_C99, file: !3, producer: "hand-written", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug, globals: !5)
!3 = !DIFile(filename: "leak.c", directory: "/src")
!5 = !{!0}
!6 = distinct !DICompositeType(tag: DW_TAG_structure_type, name: "_LEAK_ENTRY", file: !3, line: 1, size: 192, elements: !7)
!7 = !{!13, !8, !10, !12}
!13 = !DIDerivedType(tag: DW_TAG_member, name: "Next", scope: !6, file: !3, line: 1, baseType: !14, size: 64)
!14 = !DIDerivedType(tag: DW_TAG_pointer_type, baseType: !6, size: 64)
!8 = !DIDerivedType(tag: DW_TAG_member, name: "Address", scope: !6, file: !3, line: 1, baseType: !9, size: 64, offset: 64)
!9 = !DIBasicType(name: "unsigned long long", size: 64, encoding: DW_ATE_unsigned)
!10 = !DIDerivedType(tag: DW_TAG_member, name: "Length", scope: !6, file: !3, line: 1, baseType: !11, size: 32, offset: 128)
!11 = !DIBasicType(name: "unsigned int", size: 32, encoding: DW_ATE_unsigned)
!12 = !DIDerivedType(tag: DW_TAG_member, name: "Tag", scope: !6, file: !3, line: 1, baseType: !11, size: 32, offset: 160)
!15 = !{i32 2, !"CodeView", i32 1}
!16 = !{i32 2, !"Debug Info Version", i32 3}
!20 = distinct !DISubprogram(name: "PoolLeak", scope: !3, file: !3, line: 5, type: !21, scopeLine: 5, spFlags: DISPFlagDefinition, unit: !2)
!21 = !DISubroutineType(types: !22)
!22 = !{!23, !23}
!23 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!25 = !DILocation(line: 6, column: 3, scope: !20)
