user "boss" {
  first_name     = "Gerry"
  last_name      = "Kavanagh"
  email          = "boss@example.com"
  app            = true
  conference     = 8101
  conference_pin = true
}

user "mary" { # WARNING: User with no endpoint
  first_name     = "Mary"
  last_name      = "Farrell"
  email          = "mary@example.com"
  extension      = 101
  conference_pin = true # ERROR: Conference PIN without a room
}
