import FuzzSupport
@testable import DataSets

/// CIFAR-10/100 binary batches: record size, label bytes, then the pixels (the first input
/// byte picks the variant and the label; the rest is the file).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let variant: CIFARBinary.Variant = bytes[0] & 1 == 0 ? .cifar10 : .cifar100
    let label: DataLoader.CIFARLabel = bytes[0] & 2 == 0 ? .fine : .coarse
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes + 1, count: size - 1), name: "data_batch_1.bin")
    Fuzz.run { _ = try CIFARBinary.read([url], variant: variant, label: label) }
    return 0
}
