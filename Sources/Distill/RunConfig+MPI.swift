import Foundation

extension RunConfig {
    /// Keys that record where a run ran rather than choose anything (docs/mpi.md). A value read
    /// from a config file is accepted so a resolved config can be given back, and replaced by
    /// the actual value when the run starts.
    static let runKeys: [ConfigKey] = [
        ConfigKey(name: "mpi_world_size", help: "processes of the run (mpirun -np N; 1 without MPI); recorded, set by the launch, not by this key",
                  set: { c, v in c.mpiWorldSize = try Read.int(v, "an integer >= 1", { $0 >= 1 }) },
                  get: { String($0.mpiWorldSize) }),
    ]
}
