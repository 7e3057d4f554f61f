user "mary" { # WARNING: User with no endpoint
  email        = "mary@example.com"
  notify_email = "mary at work" # ERROR: Invalid email address
}

user "mary-again" { # WARNING: User with no endpoint
  email = "MARY@Example.com" # ERROR: Duplicate email
}

user "named" { # WARNING: User with no endpoint
  email = "Mary Byrne <mary.b@example.com>" # ERROR: Invalid email address
}

user "nodomain" { # WARNING: User with no endpoint
  email = "sean@localhost" # ERROR: Invalid email address
}

user "shared" { # WARNING: User with no endpoint
  email = "Installer@Fixture.example" # ERROR: Installer email used by a user
}
