import FuzzSupport
@testable import DataSets

/// JPEG and PNG decoding (libjpeg/libpng through CImageCodecs) and bilinear resizing: the
/// first two input bytes are a target height and width (0 = no resizing), the rest is the
/// image file. Decoding either succeeds or throws one one-line `ModelIOError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let (h, w) = (Int(bytes[0]), Int(bytes[1]))
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes + 2, count: size - 2), name: "image.png")
    Fuzz.run {
        let image = try ImageDecoder.decode(url)
        precondition(image.pixels.count == image.width * image.height * image.channels, "pixel count")
        if h > 0 && w > 0 {
            let out = ImageResize.resize(image, height: h, width: w)
            precondition(out.pixels.count == h * w * image.channels, "resized pixel count")
        }
    }
    return 0
}
