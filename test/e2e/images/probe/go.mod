// A static test binary for the real-node e2e image (weft-e2e/probe): no
// dependencies beyond the standard library.
module weft.io/e2e-images/probe

go 1.24
