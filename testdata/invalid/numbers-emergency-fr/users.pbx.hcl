user "claire" {
  email     = "claire@example.fr"
  extension = 150 # ERROR: Number begins with emergency number
}

user "luc" {
  email     = "luc@example.fr"
  extension = 17 # ERROR: Emergency number
}

user "anne" {
  email     = "anne@example.fr"
  extension = 200
}
