user "anna" { # WARNING: User with no endpoint
  email     = "anna@example.com"
  extension = "auto"
}

user "bob" { # WARNING: User with no endpoint
  email     = "bob@example.com"
  extension = "auto" # ERROR: No free extension
}

user "carl" { # WARNING: User with no endpoint
  email     = "carl@example.com"
  extension = "auto"
}
