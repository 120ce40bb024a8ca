import Foundation
import ModelCore

extension CIFARBinary {
    /// What a `.bin` file's name says it is: `data_batch_N.bin` / `test_batch.bin` are the
    /// CIFAR-10 archive's names, `train.bin` / `test.bin` CIFAR-100's.
    static func variant(named name: String) -> Variant? {
        if name == "test_batch.bin" { return .cifar10 }
        if name.hasPrefix("data_batch_"), name.hasSuffix(".bin"),
           Int(name.dropFirst("data_batch_".count).dropLast(".bin".count)) != nil { return .cifar10 }
        if name == "train.bin" || name == "test.bin" { return .cifar100 }
        return nil
    }

    /// Decides whether the `size`-byte file `path` is CIFAR-10 (3073-byte records) or CIFAR-100
    /// (3074-byte records), by its name and by which record size divides its size.
    ///
    /// A name and a size that disagree are an error (a CIFAR-10 batch cut short could well be
    /// a whole number of CIFAR-100 records); so is an unknown name whose size fits both record
    /// sizes (a multiple of 3073 · 3074 bytes), unless `labelGiven` (`--label` only means
    /// something for CIFAR-100). Sizes that fit neither fall through to `check`'s messages.
    static func variant(of path: String, size: Int, labelGiven: Bool) throws -> Variant {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let fits10 = size > 0 && size % Variant.cifar10.recordSize == 0
        let fits100 = size > 0 && size % Variant.cifar100.recordSize == 0
        let names10 = "data_batch_N.bin or test_batch.bin", names100 = "train.bin or test.bin"
        switch variant(named: name) {
        case .cifar10?:
            if !fits10 && fits100 {
                throw ModelIOError(.mismatch, file: path,
                                   "named like a CIFAR-10 batch, but its \(size) bytes are whole 3074-byte CIFAR-100 records, not 3073-byte CIFAR-10 ones; if it is CIFAR-100, name it \(names100)")
            }
            return .cifar10
        case .cifar100?:
            if !fits100 && fits10 {
                throw ModelIOError(.mismatch, file: path,
                                   "named like a CIFAR-100 file, but its \(size) bytes are whole 3073-byte CIFAR-10 records, not 3074-byte CIFAR-100 ones; if it is CIFAR-10, name it \(names10)")
            }
            return .cifar100
        case nil:
            switch (fits10, fits100) {
            case (true, true):
                if labelGiven { return .cifar100 }
                throw ModelIOError(.mismatch, file: path,
                                   "ambiguous: \(size) bytes are whole 3073-byte CIFAR-10 records and whole 3074-byte CIFAR-100 records; name it \(names10) for CIFAR-10, or \(names100) (or pass --label fine|coarse) for CIFAR-100")
            case (false, true): return .cifar100
            case (true, false): return .cifar10
            case (false, false):
                if size == 0 { throw ModelIOError(.malformed, file: path, "empty file: a CIFAR batch holds 3073-byte (CIFAR-10) or 3074-byte (CIFAR-100) records") }
                throw ModelIOError(.malformed, file: path,
                                   "truncated CIFAR batch: \(size) bytes is \(size / 3073) whole 3073-byte CIFAR-10 records and \(size % 3073) bytes more, or \(size / 3074) whole 3074-byte CIFAR-100 records and \(size % 3074) bytes more")
            }
        }
    }
}
