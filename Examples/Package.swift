// swift-tools-version:6.0
// An example of using bss as a library: a separate package that depends on BSSKit by path,
// as another project would depend on it by URL. Built in CI by scripts/test.
import PackageDescription

let package = Package(
    name: "bss-examples",
    dependencies: [
        .package(name: "bss", path: ".."),
    ],
    targets: [
        .executableTarget(name: "DigitsBSS", dependencies: [.product(name: "BSSKit", package: "bss")]),
    ],
    swiftLanguageModes: [.v5]
)
