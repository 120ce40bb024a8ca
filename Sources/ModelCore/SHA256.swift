import CLibCrypto
import Foundation

/// SHA-256 (FIPS 180-4), streaming, for the provenance hashes in data-set metadata, run
/// configs and checkpoints: OpenSSL's libcrypto does the hashing (the EVP digest interface).
///
/// `update` takes bytes in any pieces; `hexDigest` finishes (once) and returns the 64 lowercase
/// hex digits `sha256sum` prints. `SHA256.file(path)` hashes a file in 1 MiB reads. A copy of
/// a value hashes on independently (the context is copied on write).
public struct SHA256 {
    /// Owns one libcrypto digest context.
    private final class Context {
        let ctx: OpaquePointer
        init() {
            // Allocation or initialisation fail only when memory is exhausted.
            guard let c = EVP_MD_CTX_new() else { fatalError("libcrypto: cannot allocate a digest context") }
            precondition(EVP_DigestInit_ex(c, EVP_sha256(), nil) == 1, "libcrypto: SHA-256 initialisation failed")
            ctx = c
        }
        init(copying other: Context) {
            guard let c = EVP_MD_CTX_new() else { fatalError("libcrypto: cannot allocate a digest context") }
            precondition(EVP_MD_CTX_copy_ex(c, other.ctx) == 1, "libcrypto: cannot copy a digest context")
            ctx = c
        }
        deinit { EVP_MD_CTX_free(ctx) }
    }

    private var context = Context()
    private var finished = false

    public init() {}

    private mutating func uniqueContext() -> OpaquePointer {
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        return context.ctx
    }

    /// Hashes more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "SHA256.update after hexDigest")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let ctx = uniqueContext()
        precondition(EVP_DigestUpdate(ctx, base, bytes.count) == 1, "libcrypto: SHA-256 update failed")
    }

    public mutating func update<D: DataProtocol>(_ data: D) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// The digest as 64 lowercase hex digits (finishes the hash; call once).
    public mutating func hexDigest() -> String {
        precondition(!finished, "SHA256.hexDigest called twice")
        finished = true
        let ctx = uniqueContext()
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(ctx, &digest, &length) == 1 && length == 32, "libcrypto: SHA-256 final failed")
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for b in digest { hex.append(digits[Int(b >> 4)]); hex.append(digits[Int(b & 15)]) }
        return String(decoding: hex, as: UTF8.self)
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
}
