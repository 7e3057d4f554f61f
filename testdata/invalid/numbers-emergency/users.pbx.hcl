user "mary" { # WARNING: User with no endpoint
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  extension  = 112 # ERROR: Emergency number
}

user "sean" { # WARNING: User with no endpoint
  first_name = "Sean"
  last_name  = "Brennan"
  email      = "sean@example.com"
  extension  = 9990 # ERROR: Number begins with emergency number
  conference = 99   # WARNING: Number overlaps emergency number # WARNING: Overlapping numbers
}
