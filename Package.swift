// swift-tools-version:6.0
import PackageDescription


let package = Package(
    name: "bss",
    products: [
        .executable(name: "bss", targets: ["bss"]),
        .library(name: "BSSKit", targets: ["Report", "Distill", "Boundary", "ONNX", "ModelIO",
                                           "DataSets", "Keras", "SafeTensors", "HDF5", "NumPy", "ModelCore", "NN", "Tensor", "Plot", "Diagnostics"]),
        // One format without the rest of bss (Fuzz/ builds each harness on just its format).
        .library(name: "BSSModelCore", targets: ["ModelCore", "Diagnostics"]),
        .library(name: "BSSNumPy", targets: ["NumPy"]),
        .library(name: "BSSSafeTensors", targets: ["SafeTensors"]),
        .library(name: "BSSKeras", targets: ["Keras"]),
        .library(name: "BSSDataSets", targets: ["DataSets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // OpenBLAS is *not* linked: it is loaded with dlopen after the core type is chosen
        // (see Sources/Tensor/BLAS.swift). The shim only declares CPU-feature helpers.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        // zlib (zip members, gzip data files, PNG) through our own module map, so no code imports
        // ZIPFoundation's internal zlib module.
        .systemLibrary(name: "CZlibShim", path: "Sources/CZlibShim", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // OpenSSL's libcrypto, for SHA-256 only (Sources/ModelCore/SHA256.swift).
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        // JPEG/PNG decoding for image-folder data sets (C: both libraries fail by longjmp).
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs",
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png")]),
        // The one error family users see (UserFacingError, ErrorKind); depends on nothing.
        .target(name: "Diagnostics"),
        .target(name: "Tensor", dependencies: ["COpenBLAS", "Diagnostics"]),
        // oneDNN convolutions, loaded with dlopen (Sources/CDNNL): builds and runs without it,
        // Conv2D then takes its OpenBLAS path (docs/design.md, "Convolution backends").
        .target(name: "CDNNL", path: "Sources/CDNNL"),
        .target(name: "NN", dependencies: ["Tensor", "CDNNL", "Diagnostics"]),
        // Model files and data sets, one target per file format over a small core, so a format
        // can be read, tested and fuzzed alone (docs/design.md, "Targets"). Dependencies point
        // down: ModelIO (umbrella: dispatch by format, state dict files) -> Keras, DataSets ->
        // HDF5, NumPy, SafeTensors -> ModelCore.
        // ModelCore: Model, ModelIOError, file safety (InputFile, AtomicFile, OutputPath),
        // MemoryBudget, NumpyArray (the array type every format reads into), the JSON parser,
        // StateDict and the architecture specs, presets and GraphBuilder.
        .target(name: "ModelCore", dependencies: ["Diagnostics", "NN", "Tensor", "CLibCrypto"]),
        // .npy / .npz, with the zip reader that .npz and .keras archives share.
        .target(name: "NumPy", dependencies: ["ModelCore", "CZlibShim",
                                              .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // HDF5 through libhdf5, with the child-process isolation and clean copy (HDF5Isolation).
        .target(name: "HDF5", dependencies: ["ModelCore", "CHDF5"]),
        .target(name: "SafeTensors", dependencies: ["ModelCore"]),
        // Keras .h5 / .keras import and export.
        .target(name: "Keras", dependencies: ["ModelCore", "HDF5", "NumPy", "NN", "Tensor",
                                              .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // Data sets: npz, HDF5, IDX, CIFAR binary, image folders, ImageNet downsampled.
        .target(name: "DataSets", dependencies: ["ModelCore", "NumPy", "HDF5", "Tensor", "CImageCodecs", "CZlibShim"]),
        .target(name: "ModelIO", dependencies: ["ModelCore", "NumPy", "HDF5", "SafeTensors", "Keras", "DataSets",
                                                "NN", "Tensor"]),
        // ONNX import (Sources/ONNX): the protobuf messages are generated once and committed
        // (Sources/ONNX/Generated/README.md), so builds never run protoc or its plugin.
        .target(name: "ONNX", dependencies: ["ModelIO", "NN", "Tensor",
                                             .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Generated/README.md"]),
        // SVG plotting (axes, round ticks, legends, heat maps) shared by Boundary, Distill and Report.
        .target(name: "Plot"),
        .target(name: "Boundary", dependencies: ["ModelIO", "NN", "Tensor", "Plot"]),
        // Open MPI, loaded with dlopen only when bss runs under mpirun (Sources/Cluster/MPILibrary.swift):
        // the build needs no MPI headers and the binary runs where Open MPI is absent. Cluster
        // depends on nothing of ours; Distill and bss use it (docs/mpi.md).
        .systemLibrary(name: "CMPI", path: "Sources/CMPI"),
        .target(name: "Cluster", dependencies: ["CMPI", "Diagnostics"]),
        .target(name: "Distill", dependencies: ["Diagnostics", "Boundary", "Cluster", "ModelIO", "NN", "Tensor", "Plot",
                                                .product(name: "Yams", package: "Yams")]),
        // `bss report`: one self-contained HTML page of data sets, runs, similarities and experiments.
        .target(name: "Report", dependencies: ["Distill", "Boundary", "ModelIO", "NN", "Tensor", "Plot", "CZlibShim",
                                               .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .executableTarget(name: "bss", dependencies: ["Diagnostics", "Report", "Distill", "Boundary", "Cluster", "ONNX", "ModelIO", "NN", "Tensor",
                                                      .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Workloads only the benchmark and its tests use (not part of BSSKit).
        .target(name: "BenchSupport", dependencies: ["Distill", "Boundary", "NN", "Tensor"]),
        .executableTarget(name: "bss-bench", dependencies: ["BenchSupport", "Distill", "Boundary", "ModelIO", "NN", "Tensor"]),
        // Shared test helpers (tolerances, fixture paths, the float64 reference evaluator); a plain
        // target so every test target can use it.
        .target(name: "TestSupport", dependencies: ["NN", "Tensor"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["TestSupport", "NN", "Tensor"]),
        .testTarget(name: "ModelIOTests", dependencies: ["Diagnostics", "TestSupport", "ModelIO", "ModelCore", "NumPy", "HDF5",
                                                      "SafeTensors", "Keras", "DataSets", "NN", "Tensor"]),
        .testTarget(name: "BoundaryTests", dependencies: ["TestSupport", "Boundary", "ModelIO", "NN", "Tensor"]),
        .testTarget(name: "DistillTests", dependencies: ["Diagnostics", "TestSupport", "BenchSupport", "Distill", "Boundary", "ModelIO", "NN", "Tensor"]),
        .testTarget(name: "ONNXTests", dependencies: ["TestSupport", "ONNX", "Boundary", "ModelIO", "NN", "Tensor"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "ModelIO", "NN", "Tensor"]),
        .testTarget(name: "ReportTests", dependencies: ["TestSupport", "Report", "Plot", "Distill", "Boundary", "ModelIO", "NN", "Tensor"]),
    ],
    swiftLanguageModes: [.v5]
)
