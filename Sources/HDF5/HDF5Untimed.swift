import CHDF5
import Foundation

/// Creation property lists without object timestamps, so writing the same content twice
/// gives the same bytes.
///
/// HDF5 stores access/modification/change/birth times in every object header by default;
/// files would then differ run to run. Every group (root included, through the file-creation
/// list) and dataset this package creates uses a list with `H5Pset_obj_track_times(…, 0)`,
/// as h5py does with `track_times=False`. Parent groups are created explicitly with such a
/// list rather than by HDF5's intermediate-group creation, which uses default lists.
enum HDF5Untimed {
    /// A new creation list of `listClass` (`sh5_p_group_create()`, `sh5_p_dataset_create()`,
    /// `sh5_p_file_create()`) with time tracking off; the caller closes it. Call under `HDF5Lock`.
    static func creationList(_ listClass: hid_t) -> hid_t? {
        let list = H5Pcreate(listClass)
        if list < 0 { return nil }
        if H5Pset_obj_track_times(list, false) < 0 { H5Pclose(list); return nil }
        return list
    }
}

extension HDF5File {
    /// Creates the missing parent groups of `path` (untimed), outermost first. Call under
    /// `HDF5Lock` after `requireGroupParents`.
    func createUntimedParents(of path: String, file: hid_t) throws {
        var prefix = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true).dropLast() {
            prefix += "/" + component
            if kind(of: prefix) != nil { continue }
            guard let gcpl = HDF5Untimed.creationList(sh5_p_group_create()) else {
                throw failure(.io, at: prefix, "cannot create group-creation list")
            }
            defer { H5Pclose(gcpl) }
            let group = H5Gcreate2(file, prefix, sh5_p_default(), gcpl, sh5_p_default())
            if group < 0 { throw failure(.io, at: prefix, "cannot create group") }
            H5Gclose(group)
        }
    }
}
