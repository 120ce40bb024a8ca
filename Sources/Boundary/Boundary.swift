// The Boundary layer; see README.
