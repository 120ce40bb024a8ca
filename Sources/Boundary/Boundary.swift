// Boundary: boundary supporting samples (BSS) from any imported teacher (docs/algorithm.md).
//
// - BSSParameters / BSSMode / StepNorm / BSSStatus: what a search is and how a pair ends.
// - BSSGenerator: the batched search (one teacher forward + one input-gradient backward per step).
// - BaseSelection, TargetSelection, PairSelection: which (base sample, target class) pairs to search.
// - BSSDataset (+IO), BSSMetadata: the self-describing .h5/.npz data set `bss generate` writes
//   (Schemas/bss-dataset.schema.json) and the reader later stages use.
// - BSSReport: end-of-run statistics. (Provenance hashes: ModelIO's SHA256.)
