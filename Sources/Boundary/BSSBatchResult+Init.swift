import Tensor

extension BSSBatchResult {
    /// A result assembled from parts (the sharded search of `bss generate` under mpirun gathers
    /// each rank's pairs into one; docs/mpi.md).
    public init(x: Tensor, status: [BSSStatus], steps: [Int], logits: Tensor, margins: [Float]) {
        self.x = x; self.status = status; self.steps = steps; self.logits = logits; self.margins = margins
    }
}
