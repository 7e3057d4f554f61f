user "mary" { # WARNING: User with no endpoint
  first_name   = "Mary"
  last_name    = "Farrell"
  email        = "mary@example.com"
  notify_email = "mary at work" # ERROR: Invalid email address
}

user "mary-again" { # WARNING: User with no endpoint
  first_name = "Mary"
  last_name  = "Again"
  email      = "MARY@Example.com" # ERROR: Duplicate email
}

user "named" { # WARNING: User with no endpoint
  first_name = "Named"
  last_name  = "Walsh"
  email      = "Mary Byrne <mary.b@example.com>" # ERROR: Invalid email address
}

user "nodomain" { # WARNING: User with no endpoint
  first_name = "Nodomain"
  last_name  = "Hayes"
  email      = "sean@localhost" # ERROR: Invalid email address
}

user "shared" { # WARNING: User with no endpoint
  first_name = "Shared"
  last_name  = "Kavanagh"
  email      = "Installer@Fixture.example" # ERROR: Installer email used by a user
}
