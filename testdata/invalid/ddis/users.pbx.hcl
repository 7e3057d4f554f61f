user "mary" { # WARNING: User with no endpoint
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  numbers    = ["+35315550100", "+35315550999"] # ERROR: Number not in a trunk's pool
}

user "sean" { # WARNING: User with no endpoint
  first_name = "Sean"
  last_name  = "Brennan"
  email      = "sean@example.com"
  numbers    = ["+35315550100"] # ERROR: Number assigned twice
}

user "aoife" { # WARNING: User with no endpoint
  first_name = "Aoife"
  last_name  = "Farrell"
  email      = "aoife@example.com"
  numbers    = ["01 555 0101"] # ERROR: Invalid phone number
}
