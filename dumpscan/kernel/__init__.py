"""Kernel-structure readers: plain records out of a KernelView, one structure family each.

* ``view``       KernelView: memory (absent pages raise), symbols, ISF type layouts;
* ``common``     bulk table reads (absent ranges reported), member offsets, numpy decoding;
* ``lists``      bounded LIST_ENTRY / SLIST / RTL AVL walks;
* ``modules``    PsLoadedModuleList, PE sections, MmUnloadedDrivers;
* ``bigpool``    PoolBigPageTable;
* ``tagtables``  PoolTrackTable + ExPoolTagTables + PoolTrackTableExpansion, summed;
* ``verifier``   MmVerifierData, VfSuspectDriversList, ViTargetDriversAvl, tracker slots;
* ``tracelog``   VfPoolTraces ring;
* ``poolhittag`` PoolHitTag and the PoolHitTag break's caller chain.

docs/analysis.md describes what each reads, the models adopted and the checks made.
"""
