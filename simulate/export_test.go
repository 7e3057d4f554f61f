package simulate

// For the benchmarks that measure the run with and without the stack
// ballast (see TuneProcess).
var SetStackBallast = setStackBallast

const StackBallastGoroutines = stackBallastGoroutines
