import FuzzSupport
@testable import DataSets

/// IDX files (MNIST): magic, rank, extents, data size, optionally behind gzip.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes, count: size), name: "f.idx")
    Fuzz.run { _ = try IDXFile.read(url.path) }
    return 0
}
