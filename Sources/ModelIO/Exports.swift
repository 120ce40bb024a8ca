// ModelIO is the umbrella over the format targets (docs/design.md, "Targets"): `import ModelIO`
// keeps giving the whole model and data-set API to the targets above it (ONNX, Boundary,
// Distill, Report, bss) and to Examples/, while each format stays a target of its own that can
// be read, tested and fuzzed alone. Code inside the format targets imports only what it uses.
@_exported import DataSets
@_exported import HDF5
@_exported import Keras
@_exported import ModelCore
@_exported import NumPy
@_exported import SafeTensors
