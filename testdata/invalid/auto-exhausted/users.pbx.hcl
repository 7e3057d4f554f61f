user "anna" { # WARNING: User with no endpoint
  first_name = "Anna"
  last_name  = "Keane"
  email      = "anna@example.com"
  extension  = "auto"
}

user "bob" { # WARNING: User with no endpoint
  first_name = "Bob"
  last_name  = "Moran"
  email      = "bob@example.com"
  extension  = "auto" # ERROR: No free extension
}

user "carl" { # WARNING: User with no endpoint
  first_name = "Carl"
  last_name  = "Burke"
  email      = "carl@example.com"
  extension  = "auto"
}
