import Foundation
import CZlibShim
import ModelCore

/// gzip (RFC 1952) decompression through zlib, for `*.gz` data files (MNIST's IDX files ship
/// gzipped).
///
/// zlib parses the gzip header itself (`windowBits` 15 + 16) and checks the trailer's CRC-32
/// and length, so a corrupt or truncated file is an error rather than wrong pixels.
/// Concatenated members (what `cat a.gz b.gz` makes) are decompressed one after the other,
/// as `gunzip` does.
///
/// Bounded: output stops at `MemoryBudget.bytes`, and once `declaredSize` can read the total
/// size from the first bytes (an IDX header) the output must be exactly that size: a
/// few-megabyte file that inflates to gigabytes is refused as soon as it passes either bound.
enum Gzip {
    /// The gzip magic bytes `1f 8b`.
    static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// The decompressed bytes of `data`; errors name `file`. `declaredSize` sees the output
    /// so far and returns the total size it declares, or nil while it needs more bytes.
    static func decompress(_ data: Data, file: String,
                           declaredSize: ([UInt8]) throws -> Int? = { _ in nil }) throws -> [UInt8] {
        guard isGzip(data) else { throw ModelIOError(.malformed, file: file, "not a gzip file (no 1f 8b magic)") }
        var out = [UInt8]()
        let budget = MemoryBudget.bytes
        var limit = budget          // the most output accepted so far
        var declared: Int?          // what the content says its size is, once known
        // The trailer's ISIZE (length mod 2^32) is a good first guess for single-member files;
        // capped so a damaged trailer cannot reserve much.
        if data.count >= 8 {
            let tail = data.suffix(4)
            let isize = tail.reversed().reduce(0) { $0 << 8 | Int($1) }
            out.reserveCapacity(min(isize, budget, 1 << 28))
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
                let produced = chunk - Int(stream.avail_out)
                guard out.count + produced <= limit else {
                    if let declared {
                        throw ModelIOError(.malformed, file: file,
                                           "the gzip data hold more than the \(declared) bytes the content's header declares")
                    }
                    try MemoryBudget.check(UInt64(out.count + produced), file: file, what: "the gzip data inflate to at least")
                    return
                }
                out.append(contentsOf: buffer[0..<produced])
                if declared == nil, let size = try declaredSize(out) {
                    // Deflate expands at most 1032:1, so the file cannot hold more than that.
                    guard size / 1032 <= input.count else {
                        throw ModelIOError(.malformed, file: file,
                                           "the header declares \(size) bytes, more than \(input.count) bytes of gzip data can hold")
                    }
                    try MemoryBudget.check(UInt64(max(size, 0)), file: file, what: "the header declares")
                    declared = size
                    limit = size
                    out.reserveCapacity(size)
                }
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
