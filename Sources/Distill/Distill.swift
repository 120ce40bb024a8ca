// The Distill layer; see README.
