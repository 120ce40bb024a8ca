import Foundation

/// SHA-256 (FIPS 180-4), streaming, for the provenance hashes in data-set metadata.
///
/// Our own because Foundation on Linux has no CryptoKit and the package takes no crypto
/// dependency. `update` takes bytes in any pieces; `hexDigest` finishes (once) and returns the
/// 64 lowercase hex digits `sha256sum` prints. `SHA256.file(path)` hashes a file in 1 MiB reads.
public struct SHA256 {
    private var h: [UInt32] = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
                               0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19]
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockCount = 0
    private var length: UInt64 = 0
    private var w = [UInt32](repeating: 0, count: 64)

    public init() {}

    /// Hashes more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var i = 0
        if blockCount > 0 {
            let take = min(64 - blockCount, bytes.count)
            for j in 0..<take { block[blockCount + j] = bytes[j] }
            blockCount += take
            i = take
            if blockCount == 64 { block.withUnsafeBytes { compress($0.baseAddress!) }; blockCount = 0 }
        }
        while i + 64 <= bytes.count {
            compress(bytes.baseAddress! + i)
            i += 64
        }
        for j in i..<bytes.count { block[blockCount] = bytes[j]; blockCount += 1 }
    }

    public mutating func update<D: DataProtocol>(_ data: D) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// The digest as 64 lowercase hex digits (finishes the hash; call once).
    public mutating func hexDigest() -> String {
        let bits = length &* 8
        var pad: [UInt8] = [0x80]
        pad += [UInt8](repeating: 0, count: (55 &- blockCount + 64) % 64)
        for s in stride(from: 56, through: 0, by: -8) { pad.append(UInt8(truncatingIfNeeded: bits >> UInt64(s))) }
        let saved = length
        pad.withUnsafeBytes { update($0) }
        length = saved
        return h.map { word in
            let s = String(word, radix: 16)
            return String(repeating: "0", count: 8 - s.count) + s
        }.joined()
    }

    /// The SHA-256 of `bytes`.
    public static func hex<D: DataProtocol>(_ bytes: D) -> String {
        var s = SHA256()
        s.update(bytes)
        return s.hexDigest()
    }

    /// The SHA-256 of the file at `path`; a `ModelIOError` naming the file if it cannot be read.
    public static func file(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ModelIOError(.notFound, file: path, "cannot open the file to hash it")
        }
        defer { try? handle.close() }
        var s = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { s.update(chunk) }
        } catch {
            throw ModelIOError(.io, file: path, "read failed while hashing: \(error.localizedDescription)")
        }
        return s.hexDigest()
    }

    /// The hash of a file, or of a folder: the SHA-256 of its manifest, one `sha256sum`-style line
    /// `<hex>  <relative path>\n` per regular file below it, sorted by path (so the same files
    /// give the same hash wherever the folder lies).
    public static func path(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError(.notFound, file: path, "no such file to hash")
        }
        guard isDirectory.boolValue else { return try file(path) }
        guard let walker = FileManager.default.enumerator(atPath: path) else {
            throw ModelIOError(.io, file: path, "cannot list the folder to hash it")
        }
        var files: [String] = []
        while let item = walker.nextObject() as? String {
            var sub: ObjCBool = false
            let full = (path as NSString).appendingPathComponent(item)
            if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { files.append(item) }
        }
        var manifest = ""
        for item in files.sorted() {
            manifest += "\(try file((path as NSString).appendingPathComponent(item)))  \(item)\n"
        }
        return hex(Data(manifest.utf8))
    }

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// One 64-byte block into the state.
    private mutating func compress(_ p: UnsafeRawPointer) {
        for t in 0..<16 {
            w[t] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
        }
        for t in 16..<64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
        for t in 0..<64 {
            let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ SHA256.k[t] &+ w[t]
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
    }

    @inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
}
