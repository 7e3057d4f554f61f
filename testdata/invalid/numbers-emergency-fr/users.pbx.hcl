user "claire" { # WARNING: User with no endpoint
  first_name = "Claire"
  last_name  = "Daly"
  email      = "claire@example.fr"
  extension  = 150 # ERROR: Number begins with emergency number
}

user "luc" { # WARNING: User with no endpoint
  first_name = "Luc"
  last_name  = "Dunne"
  email      = "luc@example.fr"
  extension  = 17 # ERROR: Emergency number
}

user "anne" { # WARNING: User with no endpoint
  first_name = "Anne"
  last_name  = "Doyle"
  email      = "anne@example.fr"
  extension  = 200
}
