// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for bss's file parsers, kept out of the main package so that
// `swift build` / `swift test` there never need sanitizer flags. Build and run with
// `scripts/fuzz-smoke` (it passes --sanitize=fuzzer --sanitize=address and -enable-testing,
// which `@testable import` in the harnesses needs). Seed corpora: Fuzz/corpus/<harness>/.
let harnesses = ["fuzz-npy", "fuzz-npz", "fuzz-safetensors", "fuzz-keras-config", "fuzz-arch-spec",
                 "fuzz-run-config", "fuzz-idx", "fuzz-cifar", "fuzz-image", "fuzz-onnx"]

let package = Package(
    name: "bss-fuzz",
    dependencies: [.package(name: "bss", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "BSSKit", package: "bss")]),
    ] + harnesses.map { name in
        .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: "BSSKit", package: "bss")])
    },
    swiftLanguageModes: [.v5]
)
