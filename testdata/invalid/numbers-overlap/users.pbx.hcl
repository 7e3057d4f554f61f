user "mary" { # WARNING: User with no endpoint
  email     = "mary@example.com"
  extension = 10
}

user "sean" { # WARNING: User with no endpoint
  email     = "sean@example.com"
  extension = 101 # WARNING: Overlapping numbers
}

user "aoife" { # WARNING: User with no endpoint
  email      = "aoife@example.com"
  extension  = 20
  conference = 2 # WARNING: Overlapping numbers
}
