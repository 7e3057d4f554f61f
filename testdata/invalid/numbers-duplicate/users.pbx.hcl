user "owner" {
  email = "owner@example.com"
  role  = "owner"
  app   = true
}

        user "mary" { # WARNING: User with no endpoint
          email      = "mary@example.com"
          extension  = 101
          conference = 8000 # ERROR: Duplicate number
        }

        user "sean" { # WARNING: User with no endpoint
          email     = "sean@example.com"
          extension = 101 # ERROR: Duplicate extension
        }

        user "aoife" { # WARNING: User with no endpoint
          email      = "aoife@example.com"
          conference = 101 # ERROR: Duplicate number
        }

        user "tom" { # WARNING: User with no endpoint
          email      = "tom@example.com"
          conference = "*8101" # ERROR: Invalid conference room
        }
