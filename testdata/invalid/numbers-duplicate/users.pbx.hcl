user "owner" {
  first_name = "Tadhg"
  last_name  = "O'Brien"
  email      = "owner@example.com"
  role       = "owner"
  app        = true
}

        user "mary" { # WARNING: User with no endpoint
          first_name = "Mary"
          last_name  = "Farrell"
          email      = "mary@example.com"
          extension  = 101
          conference = 8000 # ERROR: Duplicate number
        }

        user "sean" { # WARNING: User with no endpoint
          first_name = "Sean"
          last_name  = "Brennan"
          email      = "sean@example.com"
          extension  = 101 # ERROR: Duplicate extension
        }

        user "aoife" { # WARNING: User with no endpoint
          first_name = "Aoife"
          last_name  = "Farrell"
          email      = "aoife@example.com"
          conference = 101 # ERROR: Duplicate number
        }

        user "tom" { # WARNING: User with no endpoint
          first_name = "Tom"
          last_name  = "Lynch"
          email      = "tom@example.com"
          conference = "*8101" # ERROR: Invalid conference room
        }
