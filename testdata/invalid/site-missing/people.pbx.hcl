# ERROR: Missing site
user "owner" { # WARNING: User with no endpoint
  first_name = "Tadhg"
  last_name  = "O'Brien"
  email      = "owner@example.com"
  role       = "owner"
}
