import CHDF5
import Foundation
import ModelCore

extension HDF5File {
    /// Refuses, right after opening and before any data are read, a file whose data are not
    /// all inside it or cannot be verified: external links (into other files), user-defined
    /// links, datasets with external storage (raw data in other files), virtual datasets
    /// (data mapped from other files) and filters other than deflate, shuffle and fletcher32.
    /// Otherwise naming one file could make us read — and copy into an export — any file the
    /// user can read. Closes `id` before throwing. Call with `HDF5Lock` held.
    static func requireSelfContained(_ id: hid_t, name: String) throws {
        var found = sh5_containment()
        let status = sh5_check_self_contained(id, &found)
        guard found.problem != Int32(SH5_CONTAINED) || status < 0 else { return }
        let detail = HDF5Lock.takeErrorMessage()
        H5Fclose(id)
        guard found.problem != Int32(SH5_CONTAINED) else {
            throw ModelIOError(.malformed, file: name, "truncated or corrupt HDF5 file (cannot list its objects: \(detail))")
        }
        let path = "/" + text(&found.path)
        let target = text(&found.detail)
        let outside = "; refused: bss reads only data stored inside the file it is given"
        let message: String
        switch found.problem {
        case Int32(SH5_EXTERNAL_LINK):
            message = "an external link to \(target.isEmpty ? "another file" : "'\(target)'")\(outside)"
        case Int32(SH5_USER_LINK):
            message = "a user-defined HDF5 link (its target cannot be checked)\(outside)"
        case Int32(SH5_EXTERNAL_STORAGE):
            message = "a dataset whose raw data are in external file \(target.isEmpty ? "(unnamed)" : "'\(target)'") (HDF5 external storage)\(outside)"
        case Int32(SH5_VIRTUAL):
            message = "a virtual dataset mapping data from \(target.isEmpty ? "other datasets" : "'\(target)'")\(outside)"
        default:
            message = "HDF5 filter \(found.filter)\(target.isEmpty ? "" : " (\(target))") is not supported (only deflate, shuffle and fletcher32 can be read and checked)"
        }
        throw ModelIOError(.unsupported, file: name, location: path, message)
    }

    /// A NUL-terminated C string in a fixed-size tuple field.
    private static func text<T>(_ field: inout T) -> String {
        withUnsafeBytes(of: &field) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
