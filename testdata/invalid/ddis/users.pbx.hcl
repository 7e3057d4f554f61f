user "mary" { # WARNING: User with no endpoint
  email   = "mary@example.com"
  numbers = ["+35315550100", "+35315550999"] # ERROR: Number not in a trunk's pool
}

user "sean" { # WARNING: User with no endpoint
  email   = "sean@example.com"
  numbers = ["+35315550100"] # ERROR: Number assigned twice
}

user "aoife" { # WARNING: User with no endpoint
  email   = "aoife@example.com"
  numbers = ["01 555 0101"] # ERROR: Invalid phone number
}
