user "mary" { # WARNING: User with no endpoint
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  extension  = 10
}

user "sean" { # WARNING: User with no endpoint
  first_name = "Sean"
  last_name  = "Brennan"
  email      = "sean@example.com"
  extension  = 101 # WARNING: Overlapping numbers
}

user "aoife" { # WARNING: User with no endpoint
  first_name = "Aoife"
  last_name  = "Farrell"
  email      = "aoife@example.com"
  extension  = 20
  conference = 2 # WARNING: Overlapping numbers
}
