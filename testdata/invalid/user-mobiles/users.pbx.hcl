user "mary" { # WARNING: User with no endpoint
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  mobile     = "+353871234567"
}

user "sean" { # WARNING: User with no endpoint
  first_name = "Sean"
  last_name  = "Brennan"
  email      = "sean@example.com"
  mobile     = "+353871234567" # ERROR: Duplicate mobile number
}

user "aoife" { # WARNING: User with no endpoint
  first_name = "Aoife"
  last_name  = "Farrell"
  email      = "aoife@example.com"
  mobile     = "+353 87 765 4321" # ERROR: Invalid phone number
}

user "tom" { # WARNING: User with no endpoint
  first_name = "Tom"
  last_name  = "Lynch"
  email      = "tom@example.com"
  mobile     = "0871112222" # ERROR: Invalid phone number
}
