"""The bridge to Volatility3: a layer for every crash-dump type, opening a dump as a
Volatility context from what its header says, and finding the kernel's symbols."""
