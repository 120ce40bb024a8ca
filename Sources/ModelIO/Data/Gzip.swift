import Foundation
#if canImport(CZlib)
import CZlib   // ZIPFoundation's zlib module on Linux
#elseif canImport(zlib)
import zlib    // Apple platforms
#endif

/// gzip (RFC 1952) decompression through zlib, for `*.gz` data files (MNIST's IDX files ship
/// gzipped).
///
/// zlib parses the gzip header itself (`windowBits` 15 + 16) and checks the trailer's CRC-32
/// and length, so a corrupt or truncated file is an error rather than wrong pixels.
/// Concatenated members (what `cat a.gz b.gz` makes) are decompressed one after the other,
/// as `gunzip` does.
enum Gzip {
    /// The gzip magic bytes `1f 8b`.
    static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// The decompressed bytes of `data`; errors name `file`.
    static func decompress(_ data: Data, file: String) throws -> [UInt8] {
        guard isGzip(data) else { throw ModelIOError(.malformed, file: file, "not a gzip file (no 1f 8b magic)") }
        var out = [UInt8]()
        // The trailer's ISIZE (length mod 2^32) is a good first guess for single-member files;
        // capped so a damaged trailer cannot reserve gigabytes.
        if data.count >= 8 {
            let tail = data.suffix(4)
            let isize = tail.reversed().reduce(0) { $0 << 8 | Int($1) }
            out.reserveCapacity(min(isize, 1 << 30))
        }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ModelIOError(.io, file: file, "cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            var given = 0   // input bytes handed to zlib so far (avail_in is at most 4 GiB at a time)
            stream.avail_in = 0
            while true {
                if stream.avail_in == 0 && given < input.count {
                    let n = min(input.count - given, 1 << 30)
                    stream.next_in = UnsafeMutablePointer(mutating: base + given)
                    stream.avail_in = UInt32(n)
                    given += n
                }
                let status = buffer.withUnsafeMutableBufferPointer { b -> Int32 in
                    stream.next_out = b.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                out.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                switch status {
                case Z_STREAM_END:
                    let end = given - Int(stream.avail_in)
                    if end == input.count { return }
                    // A member ends where zlib says; what follows must be another member.
                    guard input.count - end >= 2, base[end] == 0x1F, base[end + 1] == 0x8B else {
                        throw ModelIOError(.malformed, file: file,
                                           "\(input.count - end) bytes of trailing garbage after the gzip data")
                    }
                    inflateReset(&stream)
                case Z_OK:
                    if stream.avail_in == 0 && given == input.count && stream.avail_out != 0 {
                        throw ModelIOError(.malformed, file: file, "truncated gzip data (the stream ends early)")
                    }
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw ModelIOError(.malformed, file: file, "truncated gzip data (the stream ends early)")
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw ModelIOError(.malformed, file: file, "corrupt gzip data (\(reason))")
                }
            }
        }
        return out
    }
}
