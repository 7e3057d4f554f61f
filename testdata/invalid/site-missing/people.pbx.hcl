# ERROR: Missing site
user "owner" { # WARNING: User with no endpoint
  email = "owner@example.com"
  role  = "owner"
}
