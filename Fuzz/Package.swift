// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for bss's file parsers, kept out of the main package so that
// `swift build` / `swift test` there never need sanitizer flags. Build and run with
// `scripts/fuzz-smoke` (it passes --sanitize=fuzzer --sanitize=address and -enable-testing,
// which `@testable import` in the harnesses needs). Seed corpora: Fuzz/corpus/<harness>/.
//
// Each harness depends on the one format target it fuzzes (the main package's BSS* products,
// docs/design.md, "Model files and data sets"), so a format is fuzzed without the rest of bss;
// ONNX and the run config need the whole BSSKit.
let harnesses: [(name: String, products: [String])] = [
    ("fuzz-npy", ["BSSNumPy"]),
    ("fuzz-npz", ["BSSNumPy"]),
    ("fuzz-safetensors", ["BSSSafeTensors"]),
    ("fuzz-keras-config", ["BSSKeras", "BSSModelCore"]),
    ("fuzz-arch-spec", ["BSSModelCore"]),
    ("fuzz-run-config", ["BSSKit"]),
    ("fuzz-idx", ["BSSDataSets"]),
    ("fuzz-cifar", ["BSSDataSets"]),
    ("fuzz-image", ["BSSDataSets"]),
    ("fuzz-onnx", ["BSSKit"]),
]

let package = Package(
    name: "bss-fuzz",
    dependencies: [.package(name: "bss", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "BSSModelCore", package: "bss")]),
    ] + harnesses.map { harness in
        .executableTarget(name: harness.name,
                          dependencies: ["FuzzSupport"] + harness.products.map { .product(name: $0, package: "bss") })
    },
    swiftLanguageModes: [.v5]
)
