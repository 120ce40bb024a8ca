import Foundation
import ModelCore

/// Tiny ImageNet (`tiny-imagenet-200.zip`, 200 classes of 64×64 JPEG images):
///
///     tiny-imagenet-200/wnids.txt                    the 200 WordNet ids, one a line
///     tiny-imagenet-200/words.txt                    "<wnid>\t<names>" (optional here)
///     tiny-imagenet-200/train/<wnid>/images/*.JPEG   500 training images per class
///     tiny-imagenet-200/val/images/*.JPEG            10,000 validation images
///     tiny-imagenet-200/val/val_annotations.txt      "<file>\t<wnid>\t<box>" per image
///
/// The folder (or the folder holding it) means the training split; `…/val` the validation
/// split; `…/test` the unlabelled test images. Samples are in sorted path order (as
/// torchvision's `ImageFolder`); labels number the wnids either in the order of `wnids.txt`
/// (`--class-order wnids`) or sorted (`--class-order sorted`, what `ImageFolder` on `train/`
/// gives). The archive's `wnids.txt` is not sorted, so the choice is required, and an error
/// naming both otherwise; when the file is sorted the two agree and nothing needs choosing.
/// Class names come from `words.txt` when it is there, else the wnids. Grayscale images
/// (a few hundred in the archive) are repeated into RGB (`ImageFolder`).
enum TinyImageNet {
    /// Whether `folder` is the archive's root (`wnids.txt` + `train/`).
    static func isRoot(_ folder: URL) -> Bool {
        exists(folder.appendingPathComponent("wnids.txt")) && exists(folder.appendingPathComponent("train"))
    }

    /// Whether `folder` is its validation split (`val_annotations.txt` + `images/`).
    static func isValidation(_ folder: URL) -> Bool {
        exists(folder.appendingPathComponent("val_annotations.txt")) && exists(folder.appendingPathComponent("images"))
    }

    /// Whether `folder` is its unlabelled test split (`test/images/` inside the root): read
    /// as an image folder it would look like one class called "images".
    static func isTest(_ folder: URL) -> Bool {
        isRoot(folder.deletingLastPathComponent()) && exists(folder.appendingPathComponent("images"))
            && !exists(folder.appendingPathComponent("val_annotations.txt"))
            && folder.deletingLastPathComponent().appendingPathComponent("train").standardizedFileURL != folder.standardizedFileURL
    }

    static func listTest(_ folder: URL, file: String, options: DataLoader.ReadOptions) throws -> ImageList {
        let urls = try ImageFolder.images(under: folder.appendingPathComponent("images", isDirectory: true))
        guard !urls.isEmpty else { throw ModelIOError(.notFound, file: file, "no JPEG/PNG images in images/") }
        return ImageList(items: urls.map { ImageFolder.Item(url: $0, label: nil) }, classNames: nil, file: file,
                         description: "Tiny ImageNet test images (unlabelled)", format: .tinyImageNet)
    }

    static func listTrain(_ root: URL, file: String, options: DataLoader.ReadOptions) throws -> ImageList {
        let (wnids, order) = try classes(root, options: options)
        let index = Dictionary(uniqueKeysWithValues: wnids.enumerated().map { ($1, Int64($0)) })
        let train = root.appendingPathComponent("train", isDirectory: true)
        var items: [ImageFolder.Item] = []
        for wnid in wnids.sorted() {
            let label = index[wnid]!
            let urls = try ImageFolder.images(under: train.appendingPathComponent(wnid, isDirectory: true))
            guard !urls.isEmpty else {
                throw ModelIOError(.notFound, file: train.appendingPathComponent(wnid).relativePath,
                                   "no JPEG/PNG images for class \(wnid) listed in wnids.txt")
            }
            items += urls.map { ImageFolder.Item(url: $0, label: label) }
        }
        let extra = Set(ImageFolder.subfolders(train)).subtracting(wnids)
        if let e = extra.sorted().first {
            throw ModelIOError(.mismatch, file: train.appendingPathComponent(e).relativePath, "class folder '\(e)' is not in wnids.txt")
        }
        return ImageList(items: items, classNames: try names(root, wnids: wnids), file: file,
                         description: "Tiny ImageNet training images (\(wnids.count) classes, \(describe(order)))",
                         format: .tinyImageNet, classOrder: order)
    }

    static func listValidation(_ folder: URL, file: String, options: DataLoader.ReadOptions) throws -> ImageList {
        let root = folder.deletingLastPathComponent()
        let (wnids, order) = try classes(root, options: options)
        let index = Dictionary(uniqueKeysWithValues: wnids.enumerated().map { ($1, Int64($0)) })
        let annotations = folder.appendingPathComponent("val_annotations.txt")
        let text = String(decoding: try FileBytes.read(annotations), as: UTF8.self)
        var items: [ImageFolder.Item] = []
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 2, let label = index[String(fields[1])] else {
                throw ModelIOError(.malformed, file: annotations.relativePath, location: "line \(n + 1)",
                                   fields.count < 2 ? "expected '<file>\\t<wnid>\\t…'" : "wnid '\(fields[1])' is not in \(root.appendingPathComponent("wnids.txt").relativePath)")
            }
            items.append(.init(url: folder.appendingPathComponent("images").appendingPathComponent(String(fields[0])), label: label))
        }
        let listed = Set(items.map(\.url.lastPathComponent))
        if let stray = try ImageFolder.images(under: folder.appendingPathComponent("images")).first(where: { !listed.contains($0.lastPathComponent) }) {
            throw ModelIOError(.mismatch, file: stray.relativePath, "image not listed in val_annotations.txt (it would have no label)")
        }
        return ImageList(items: items, classNames: try names(root, wnids: wnids), file: file,
                         description: "Tiny ImageNet validation images (labels from val_annotations.txt, \(describe(order)))",
                         format: .tinyImageNet, classOrder: order)
    }

    /// The wnids of `root/wnids.txt` in label order, and the order used: the one asked for,
    /// or (not asked) `.wnids` when the file is sorted and both orders agree.
    static func classes(_ root: URL, options: DataLoader.ReadOptions) throws -> ([String], DataLoader.ClassOrder) {
        let listed = try wnidsFile(root)
        let sorted = listed.sorted()
        switch options.classOrder {
        case .wnids?: return (listed, .wnids)
        case .sorted?: return (sorted, .sorted)
        case nil:
            guard listed == sorted else {
                throw ModelIOError(.mismatch, file: root.appendingPathComponent("wnids.txt").relativePath,
                                   "the class ids are not in sorted order, so labels depend on the numbering: pass --class-order wnids (label = line of wnids.txt, the archive's own numbering) or --class-order sorted (sorted wnids, what torchvision's ImageFolder on train/ gives)")
            }
            return (listed, .wnids)
        }
    }

    static func describe(_ order: DataLoader.ClassOrder) -> String {
        order == .wnids ? "labels = line of wnids.txt" : "labels = sorted wnids"
    }

    /// The wnids of `root/wnids.txt` in file order.
    static func wnidsFile(_ root: URL) throws -> [String] {
        let url = root.appendingPathComponent("wnids.txt")
        guard exists(url) else { throw ModelIOError(.notFound, file: url.relativePath, "no wnids.txt: the class list of Tiny ImageNet") }
        let wnids = String(decoding: try FileBytes.read(url), as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !wnids.isEmpty, Set(wnids).count == wnids.count else {
            throw ModelIOError(.malformed, file: url.relativePath, wnids.isEmpty ? "no class ids" : "a class id occurs twice")
        }
        return wnids
    }

    /// Names from `words.txt` ("wnid<TAB>names"), or the wnids themselves.
    static func names(_ root: URL, wnids: [String]) throws -> [String] {
        let url = root.appendingPathComponent("words.txt")
        guard exists(url) else { return wnids }
        var words: [String: String] = [:]
        for line in String(decoding: try FileBytes.read(url), as: UTF8.self).split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "\t", maxSplits: 1)
            if parts.count == 2 { words[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return wnids.map { words[$0] ?? $0 }
    }

    static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }
}
