user "mary" { # WARNING: User with no endpoint
  email     = "mary@example.com"
  extension = 112 # ERROR: Emergency number
}

user "sean" { # WARNING: User with no endpoint
  email      = "sean@example.com"
  extension  = 9990 # ERROR: Number begins with emergency number
  conference = 99   # WARNING: Number overlaps emergency number # WARNING: Overlapping numbers
}
