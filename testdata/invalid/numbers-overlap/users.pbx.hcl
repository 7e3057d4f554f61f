user "mary" {
  email     = "mary@example.com"
  extension = 10
}

user "sean" {
  email     = "sean@example.com"
  extension = 101 # WARNING: Overlapping numbers
}

user "aoife" {
  email      = "aoife@example.com"
  extension  = 20
  conference = 2 # WARNING: Overlapping numbers
}
