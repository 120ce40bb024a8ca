import CHDF5
import Foundation
import ModelCore

/// What an HDF5 path points at.
public enum HDF5ObjectKind: String, Sendable {
    case group, dataset
    /// A named datatype or a link that cannot be followed (dangling soft/external link).
    case other
}

/// One entry of a group listing: its name (relative to the listed group) and kind.
public struct HDF5Child: Equatable, Sendable {
    public var name: String
    public var kind: HDF5ObjectKind

    public init(name: String, kind: HDF5ObjectKind) {
        self.name = name
        self.kind = kind
    }
}

extension HDF5File {
    /// Keras and h5py files nest a handful of levels; anything deeper is a hard-link cycle.
    static let maximumDepth = 64

    /// What `path` points at, or nil if any component is missing.
    ///
    /// Checked component by component: in HDF5 1.10 `H5Lexists("a/b")` *fails* (rather than
    /// returning false) when `a` is missing or is a dataset.
    public func kind(of path: String) -> HDF5ObjectKind? {
        HDF5Lock.run {
            guard let file = try? id() else { return nil }
            let components = path.split(separator: "/", omittingEmptySubsequences: true)
            if components.isEmpty { return .group }
            var prefix = ""
            for component in components {
                prefix += "/" + component
                if H5Lexists(file, prefix, sh5_p_default()) <= 0 { return nil }
            }
            switch sh5_object_kind(file, prefix) {
            case Int32(SH5_KIND_GROUP): return .group
            case Int32(SH5_KIND_DATASET): return .dataset
            case let k where k < 0: return nil   // a dangling link: nothing is there
            default: return .other
            }
        }
    }

    /// Whether `path` exists (as anything: group, dataset, ...).
    public func exists(_ path: String) -> Bool { kind(of: path) != nil }

    /// The direct children of the group at `path`, in name order (byte-wise, as HDF5 sorts).
    public func children(of path: String = "/") throws -> [HDF5Child] {
        try HDF5Lock.run {
            let file = try id()
            try requireKind(.group, at: path)
            var names = sh5_names()
            defer { sh5_names_free(&names) }
            if sh5_list_links(file, Self.hdf5Path(path), &names) < 0 {
                throw failure(.malformed, at: path, "cannot list the group's members")
            }
            return try Self.unpack(names).map { name, kind in
                if kind == Int32(SH5_KIND_UNREADABLE) { throw unreadableObject(Self.join(path, name)) }
                return HDF5Child(name: name, kind: kind == Int32(SH5_KIND_GROUP) ? .group
                                                  : kind == Int32(SH5_KIND_DATASET) ? .dataset : .other)
            }
        }
    }

    /// The error for an object a hard link names but this libhdf5 cannot open: with a
    /// superblock of version 2 or later, a file format newer than the library reads (h5py's
    /// `libver="latest"` with a newer HDF5), and how to re-save the file (docs/data-formats.md).
    func unreadableObject(_ path: String) -> ModelIOError {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        sh5_library_version(&major, &minor, &release)
        let superblock = (try? id()).map { sh5_superblock_version($0) } ?? -1
        let library = "\(major).\(minor).\(release)"
        if superblock >= 2 {
            return ModelIOError(.unsupported, file: name, location: Self.displayPath(path),
                                "cannot be opened by the HDF5 library bss uses (\(library)): the file was written with a newer HDF5 file format (h5py's libver=\"latest\"; superblock version \(superblock)); re-save it with h5py.File(PATH, \"w\", libver=\"earliest\") (or libver=\"v108\")")
        }
        return ModelIOError(.malformed, file: name, location: Self.displayPath(path),
                            "the object cannot be opened by the HDF5 library bss uses (\(library)): the file is damaged or uses features this library lacks")
    }

    /// Every object below the group at `path`, depth first in name order, named by its path
    /// relative to `path` (e.g. `"dense/dense/kernel:0"`).
    public func descendants(of path: String = "/") throws -> [HDF5Child] {
        try HDF5Lock.run { try descendants(of: path, prefix: "", depth: 0) }
    }

    private func descendants(of path: String, prefix: String, depth: Int) throws -> [HDF5Child] {
        guard depth < Self.maximumDepth else {
            throw error(.malformed, at: path, "groups nested deeper than \(Self.maximumDepth) levels (a link cycle?)")
        }
        var result: [HDF5Child] = []
        for child in try children(of: path) {
            let relative = prefix + child.name
            result.append(HDF5Child(name: relative, kind: child.kind))
            if child.kind == .group {
                result += try descendants(of: Self.join(path, child.name), prefix: relative + "/", depth: depth + 1)
            }
        }
        return result
    }

    /// Creates the group at `path` and any missing parents (like `mkdir -p`); a no-op if the
    /// group exists. Throws `.mismatch` if something other than a group is in the way.
    public func createGroup(_ path: String) throws {
        try HDF5Lock.run {
            let file = try id()
            try requireWritable(path)
            switch kind(of: path) {
            case .group?: return
            case let other?: throw error(.mismatch, at: path, "expected a group, found a \(other.rawValue)")
            case nil: break
            }
            try requireGroupParents(of: path)
            try createUntimedParents(of: path, file: file)
            guard let gcpl = HDF5Untimed.creationList(sh5_p_group_create()) else {
                throw failure(.io, at: path, "cannot create group-creation list")
            }
            defer { H5Pclose(gcpl) }
            let group = H5Gcreate2(file, path, sh5_p_default(), gcpl, sh5_p_default())
            if group < 0 { throw failure(.io, at: path, "cannot create group") }
            H5Gclose(group)
        }
    }

    // MARK: - Internal helpers

    /// Throws `.notFound` if `path` is missing, `.mismatch` if it is not a `kind`.
    func requireKind(_ expected: HDF5ObjectKind, at path: String) throws {
        guard let found = kind(of: path) else {
            throw error(.notFound, at: path, "no such \(expected.rawValue)")
        }
        guard found == expected else {
            throw error(.mismatch, at: path, "expected a \(expected.rawValue), found a \(found.rawValue)")
        }
    }

    /// Throws `.mismatch` if an existing ancestor of `path` is not a group (HDF5 would fail
    /// with an obscure "message type not found").
    func requireGroupParents(of path: String) throws {
        var prefix = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true).dropLast() {
            prefix += "/" + component
            guard let found = kind(of: prefix) else { return }   // the rest will be created
            guard found == .group else {
                throw error(.mismatch, at: path, "'\(Self.displayPath(prefix))' is a \(found.rawValue), not a group")
            }
        }
    }

    /// `parent/child` without doubled slashes.
    static func join(_ parent: String, _ child: String) -> String {
        let trimmed = parent.hasSuffix("/") ? String(parent.dropLast()) : parent
        return trimmed.isEmpty ? "/" + child : trimmed + "/" + child
    }

    /// The (name, kind) pairs packed by the C shim.
    static func unpack(_ names: sh5_names) -> [(String, Int32)] {
        guard let bytes = names.bytes, names.count > 0 else { return [] }
        var result: [(String, Int32)] = []
        result.reserveCapacity(names.count)
        var offset = 0
        for i in 0..<names.count {
            let start = bytes + offset
            let length = strlen(start)
            let name = String(decoding: UnsafeRawBufferPointer(start: start, count: length), as: UTF8.self)
            result.append((name, names.kinds[i]))
            offset += length + 1
        }
        return result
    }
}
