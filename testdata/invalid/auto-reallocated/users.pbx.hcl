user "tom" { # WARNING: User with no endpoint
  first_name = "Tom"
  last_name  = "Lynch"
  email      = "tom@example.com"
  extension  = "auto" # WARNING: Extension reallocated
}

user "zoe" { # WARNING: User with no endpoint
  first_name = "Zoe"
  last_name  = "Moran"
  email      = "zoe@example.com"
  extension  = 100
}
