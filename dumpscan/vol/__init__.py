"""The bridge to Volatility3: a layer and stacker for every crash-dump type, opening a
dump as a Volatility context from what its header says, finding the kernel's symbols,
and a KernelView from inside a Volatility plugin.  See docs/volatility.md."""
