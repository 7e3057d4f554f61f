user "tom" { # WARNING: User with no endpoint
  email     = "tom@example.com"
  extension = "auto" # WARNING: Extension reallocated
}

user "zoe" { # WARNING: User with no endpoint
  email     = "zoe@example.com"
  extension = 100
}
