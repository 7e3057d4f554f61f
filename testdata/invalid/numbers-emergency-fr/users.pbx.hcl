user "claire" { # WARNING: User with no endpoint
  email     = "claire@example.fr"
  extension = 150 # ERROR: Number begins with emergency number
}

user "luc" { # WARNING: User with no endpoint
  email     = "luc@example.fr"
  extension = 17 # ERROR: Emergency number
}

user "anne" { # WARNING: User with no endpoint
  email     = "anne@example.fr"
  extension = 200
}
