//! `omnisim serve`: the three simulators on real ports.
