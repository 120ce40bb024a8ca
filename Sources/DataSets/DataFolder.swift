import Foundation
import ModelCore

/// What a folder given as `DATA` stands for — the training split of the archive unpacked in it:
///
/// | the folder holds | read as |
/// |---|---|
/// | `data_batch_1.bin` … (or `cifar-10-batches-bin/` holding them) | CIFAR-10 training batches, in batch-number order |
/// | `train.bin` (or `cifar-100-binary/` holding it) | CIFAR-100 training set |
/// | `train_data_batch_1.npz` … | downsampled ImageNet training batches, in batch-number order |
/// | `wnids.txt` + `train/` (or `tiny-imagenet-200/` holding them); `val_annotations.txt` + `images/` | Tiny ImageNet training / validation split (`TinyImageNet`) |
/// | `<class>/…/*.png|jpg` sub-folders, or images only | a class-per-folder or unlabelled image set (`ImageFolder`) |
///
/// Test splits are asked for by naming their file (`test_batch.bin`, `test.bin`,
/// `val_data.npz`). A folder holding more than one of these is an error rather than a guess;
/// so is one holding only pickled batches (the Python versions of the archives).
enum DataFolder {
    /// What a data folder holds: arrays read whole, image files listed, or ImageNet batches.
    enum Source {
        case arrays(DataLoader.RawData)
        case images(ImageList)
        case imagenet([URL])
    }

    static func read(_ path: String, options: DataLoader.ReadOptions) throws -> DataLoader.RawData {
        switch try resolve(path, options: options) {
        case .arrays(let raw): return raw
        case .images(let list): return try list.assemble(options: options)
        case .imagenet(let urls): return try ImageNetDownsampled.read(urls)
        }
    }

    /// Recognises the folder `path` (the type's table); only CIFAR binaries are read here.
    static func resolve(_ path: String, options: DataLoader.ReadOptions) throws -> Source {
        var folder = URL(fileURLWithPath: path, isDirectory: true)
        let nested = ["cifar-10-batches-bin", "cifar-100-binary"].filter {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
        if nested.count > 1 {
            throw ModelIOError(.mismatch, file: path, "holds both \(nested.joined(separator: " and ")); give the path of one of them")
        }
        if let n = nested.first { folder = folder.appendingPathComponent(n, isDirectory: true) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        let cifar10 = numbered(names, prefix: "data_batch_", suffix: ".bin")
        let cifar100 = names.contains("train.bin") ? ["train.bin"] : []
        let imagenet = numbered(names, prefix: "train_data_batch_", suffix: ".npz")
        let found = [("CIFAR-10 batches data_batch_N.bin", cifar10), ("CIFAR-100 train.bin", cifar100),
                     ("ImageNet batches train_data_batch_N.npz", imagenet)].filter { !$0.1.isEmpty }
        guard found.count <= 1 else {
            throw ModelIOError(.mismatch, file: path,
                               "holds \(found.map(\.0).joined(separator: " and ")); give the path of the file to read, or keep one data set per folder")
        }
        let urls = (found.first?.1 ?? []).map { folder.appendingPathComponent($0) }
        if !cifar10.isEmpty || !cifar100.isEmpty {
            let variant: CIFARBinary.Variant = cifar10.isEmpty ? .cifar100 : .cifar10
            for url in urls {
                let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                _ = try CIFARBinary.variant(of: url.relativePath, size: size, labelGiven: options.cifarLabel != nil)
            }
            return .arrays(try CIFARBinary.read(urls, variant: variant, label: options.cifarLabel ?? .fine))
        }
        if !imagenet.isEmpty { return .imagenet(urls) }
        var root = folder
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("tiny-imagenet-200").path) {
            root = folder.appendingPathComponent("tiny-imagenet-200", isDirectory: true)
        }
        if TinyImageNet.isRoot(root) { return .images(try TinyImageNet.listTrain(root, file: path, options: options)) }
        if TinyImageNet.isValidation(folder) { return .images(try TinyImageNet.listValidation(folder, file: path, options: options)) }
        if TinyImageNet.isTest(folder) { return .images(try TinyImageNet.listTest(folder, file: path, options: options)) }
        if let images = try ImageFolder.list(folder, file: path) { return .images(images) }
        throw nothingFound(path, folder: folder, names: names)
    }

    /// Names `prefix<N>suffix`, sorted by N.
    static func numbered(_ names: [String], prefix: String, suffix: String) -> [String] {
        names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix),
                  let n = Int(name.dropFirst(prefix.count).dropLast(suffix.count)) else { return nil }
            return (n, name)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The error for a folder with no training set in it, pointing at what is there.
    static func nothingFound(_ path: String, folder: URL, names: [String]) -> ModelIOError {
        let tests = ["test_batch.bin", "test.bin", "val_data.npz"].filter(names.contains)
        if let t = tests.first {
            return ModelIOError(.notFound, file: path,
                                "no training batches here; for the test split give the path of \(folder.appendingPathComponent(t).relativePath)")
        }
        for name in names {
            let url = folder.appendingPathComponent(name)
            if let protocolVersion = DataLoader.pickleProtocol(url) {
                return DataLoader.pickleError(url.relativePath, protocolVersion: protocolVersion)
            }
        }
        return ModelIOError(.notFound, file: path,
                            "a data folder must hold CIFAR-10 binary batches (data_batch_1.bin …), CIFAR-100's train.bin, downsampled ImageNet .npz batches (train_data_batch_1.npz …), Tiny ImageNet, or PNG/JPEG images (in one sub-folder per class, or directly)")
    }
}
