import Foundation
import CZlibShim
import ModelCore

/// Inflates one raw deflate stream (a zip member, method 8) whose uncompressed size is declared.
///
/// The output buffer is exactly the declared size (the caller has checked it against the
/// memory budget), so a stream cannot make us allocate more than it declared. Every call to
/// zlib either consumes input or produces output; when it can do neither (damaged or truncated
/// data) the loop ends with an error instead of spinning. Refused: a stream that needs more
/// room than declared, one that ends before filling it, and bytes left after its end.
enum ZipInflate {
    static func inflate(_ input: UnsafeRawBufferPointer, size: Int, file: String, location: String) throws -> Data {
        func fail(_ message: String) -> ModelIOError { ModelIOError(.malformed, file: file, location: location, message) }
        var out = Data(count: size)
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ModelIOError(.io, file: file, location: location, "cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        // zlib counts in UInt32: hand it at most 1 GiB of input or output at a time.
        let step = 1 << 30
        let spare = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        defer { spare.deallocate() }
        try out.withUnsafeMutableBytes { (output: UnsafeMutableRawBufferPointer) in
            var given = 0, room = 0
            while true {
                if stream.avail_in == 0 && given < input.count {
                    let n = min(input.count - given, step)
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self) + given)
                    stream.avail_in = UInt32(n)
                    given += n
                }
                var probing = false
                if stream.avail_out == 0 {
                    if room < size {
                        let n = min(size - room, step)
                        stream.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self) + room
                        stream.avail_out = UInt32(n)
                        room += n
                    } else {
                        // Full: one spare byte tells a stream that has more to give from one that ends here.
                        stream.next_out = spare
                        stream.avail_out = 1
                        probing = true
                    }
                }
                let status = zlib_inflate(&stream)
                if probing && stream.avail_out == 0 {
                    throw fail("the deflate stream holds more than the \(size) bytes the archive declares")
                }
                switch status {
                case Z_STREAM_END:
                    let written = probing ? size : room - Int(stream.avail_out)
                    guard written == size else {
                        throw fail("the deflate stream ends after \(written) bytes, but the archive declares \(size)")
                    }
                    let consumed = given - Int(stream.avail_in)
                    guard consumed == input.count else {
                        throw fail("\(input.count - consumed) bytes follow the end of the member's deflate stream")
                    }
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: either the input ran out or (never with the spare
                    // byte) the output did.
                    throw fail("truncated deflate data (the member's stream ends early)")
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw fail("corrupt deflate data (\(reason))")
                }
            }
        }
        return out
    }
}

extension ZipInflate {
    /// Up to `count` bytes from the start of a raw deflate stream (fewer when it ends or is
    /// damaged; the full `inflate` reports damage). For reading a header before deciding to
    /// inflate the rest.
    static func prefix(_ input: UnsafeRawBufferPointer, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var stream = z_stream()
        guard count > 0, input.count > 0,
              inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(min(input.count, 1 << 30))
        out.withUnsafeMutableBufferPointer { o in
            stream.next_out = o.baseAddress
            stream.avail_out = UInt32(count)
            // Each call consumes input or fills output; Z_BUF_ERROR / errors / the end stop it.
            while stream.avail_out > 0, zlib_inflate(&stream) == Z_OK {}
        }
        return Array(out.prefix(count - Int(stream.avail_out)))
    }
}

/// zlib's `inflate` with `Z_NO_FLUSH` (the enum's `inflate` method shadows the C function).
private func zlib_inflate(_ stream: inout z_stream) -> Int32 { inflate(&stream, Z_NO_FLUSH) }
